# lib.sh - what the shell tests share. Source it right after `set -u`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$BUILD"
#
# It checks that the datachat executable and the demo generator are built
# (DC, GEN), makes a temporary directory T that is removed at exit (made
# writable first, so read-only fixtures go too), and gives the counters and
# checks every test uses: ok, bad, expect, has, hasnt, finish.
[ -n "${1:-}" ] || { echo "FAIL: lib.sh needs the build directory"; exit 1; }
DC=$1/datachat
GEN=$1/datachat-demo-gen
[ -x "$DC" ] || { echo "FAIL: $DC not built"; exit 1; }
[ -x "$GEN" ] || { echo "FAIL: $GEN not built"; exit 1; }

T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE NAME -- CMD...: runs CMD with its output in $T/out and
# $T/err; a different exit code is a failure that shows both.
expect() {
    local code=$1 name=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$name: exit $rc, wanted $code"
        sed 's/^/    out: /' "$T/out" | head -8
        sed 's/^/    err: /' "$T/err" | head -8
        return 1
    fi
    ok
}
# has FILE TEXT NAME / hasnt FILE TEXT NAME: fixed text in a file or not.
has() {
    if grep -qF -- "$2" "$1"; then ok; else
        bad "$3: '$2' not in output"
        sed 's/^/    | /' "$1" | head -10
    fi
}
hasnt() {
    if grep -qF -- "$2" "$1"; then bad "$3: '$2' unexpectedly in output"; else ok; fi
}
# finish [NAME]: the counts, and the script's exit status.
finish() {
    echo "${1:+$1: }$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
