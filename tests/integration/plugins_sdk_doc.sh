#!/bin/sh
# docs/SDK.md cannot rot: every fenced block marked `sh test` in it is run,
# in document order, in one empty directory, against DataChat installed
# from BUILD into a temporary prefix ($SDK_PREFIX, its bin/ on PATH). Any
# command failing fails the test; so does a document with no such blocks
# or with a plain ```sh block (shell the test would not run).
#
#   plugins_sdk_doc.sh SRC BUILD
# Exit 77 only when a tool the document uses is missing.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ $# -eq 2 ] || fail "usage: $0 SRC BUILD"
src=$1
build=$2
doc=$src/docs/SDK.md
cmake=${CMAKE_COMMAND:-cmake}
bindir=$(dirname "$cmake")
for t in "$cmake" cc pkg-config sqlite3 awk sed grep; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed" >&2; exit 77; }
done
pkg-config --exists cmocka || { echo "SKIP: cmocka's pkg-config file is missing" >&2; exit 77; }
[ -f "$doc" ] || fail "$doc is missing"

if grep -n '^```sh[[:space:]]*$' "$doc" >&2; then
    fail "$doc has plain \`\`\`sh blocks (above); mark them \`\`\`sh test so they are run, or use a plain fence for syntax"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-sdkdoc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
SDK_PREFIX=$tmp/prefix
export SDK_PREFIX
"$cmake" --install "$build" --prefix "$SDK_PREFIX" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }

# The blocks, each preceded by a line that says which one is running.
awk '
    /^```sh test[[:space:]]*$/ { inb = 1; n++; start = NR; printf "echo \"== docs/SDK.md block %d (line %d)\"\n", n, NR; next }
    /^```/ && inb { inb = 0; next }
    inb { print }
    END { if (inb) { print "echo unterminated block >&2; exit 1" } }
' "$doc" >"$tmp/blocks.sh"
nblocks=$(grep -c '^```sh test' "$doc")
[ "$nblocks" -ge 4 ] || fail "$doc has $nblocks \`sh test\` blocks; the newcomer path needs one per step"

mkdir "$tmp/work"
cd "$tmp/work"
PATH="$SDK_PREFIX/bin:$bindir:$PATH" sh -eux "$tmp/blocks.sh" >"$tmp/run.log" 2>&1 ||
    { cat "$tmp/run.log" >&2; fail "a command from $doc failed (the last lines above show which)"; }
grep '^== docs' "$tmp/run.log"
echo "PASS: $nblocks blocks of $doc ran"
