#!/bin/sh
# The ABI promise, checked.
#
#   abi_check.sh compat SRC BUILD
#     Builds the hello-tool and hello-stage examples against the frozen ABI
#     1.0 headers in tests/abi/1.0 and runs them on the current host: a
#     plugin built for minor 0 loads on a host with a newer minor, through
#     `plugins check`, `tools call` and a query answered by the stage.
#   abi_check.sh abidiff SRC BUILD
#     Compares the built datachat-sdk-testing library against the recorded
#     baseline tests/abi/datachat-sdk-testing.abi with abidiff: an
#     incompatible change (a removed or changed exported function) fails
#     with the report; a compatible addition passes. A deliberately broken
#     library is checked first, so the test proves it can fail.
#     Raising the baseline is a deliberate commit (tests/abi/README.md).
# Exit 77 only when a needed tool is missing.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

need() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed" >&2; exit 77; }
    done
}

[ $# -eq 3 ] || fail "usage: $0 compat|abidiff SRC BUILD"
mode=$1
src=$2
build=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

case "$mode" in
compat)
    need cc sqlite3
    dc=$build/datachat
    mkdir "$tmp/plugins"
    cc -shared -fPIC -fvisibility=hidden -I"$src/tests/abi/1.0" -o "$tmp/plugins/tool-hello.so" \
        "$src/sdk/examples/hello-tool/hello.c" || fail "hello-tool does not build against the ABI 1.0 headers"
    cc -shared -fPIC -fvisibility=hidden -I"$src/tests/abi/1.0" -o "$tmp/plugins/stage-hello-answer.so" \
        "$src/sdk/examples/hello-stage/hello_answer.c" || fail "hello-stage does not build against the ABI 1.0 headers"
    for so in "$tmp"/plugins/*.so; do
        out=$("$dc" plugins check "$so" 2>&1) || { echo "$out" >&2; fail "the host refused $so"; }
        echo "$out" | grep -q "abi      1.0 (host 1\." || { echo "$out" >&2; fail "$so is not an ABI 1.0 plugin"; }
        # No capabilities field before ABI 1.3: the whole host table.
        echo "$out" | grep -q "uses     undeclared (all)$" || { echo "$out" >&2; fail "$so is not shown as using the whole host table"; }
    done
    sqlite3 "$tmp/demo.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);" || fail "sqlite3 failed"
    cat >"$tmp/datachat.yaml" <<YAML
version: 1
plugins: { dirs: [$tmp/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: intent
  stages:
    intent: { use: intent, on: { catalog: reply, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    reply: { use: hello-answer }
tools:
  greet: { use: hello, with: { greeting: Hi } }
audit: { path: $tmp/audit.jsonl }
YAML
    out=$("$dc" --config "$tmp/datachat.yaml" tools call greet '{"name":"Ada"}' 2>&1) ||
        { echo "$out" >&2; fail "the ABI 1.0 tool failed on this host"; }
    echo "$out" | grep -q "Hi, Ada" || fail "the ABI 1.0 tool printed: $out"
    out=$(cd "$tmp" && "$dc" --config "$tmp/datachat.yaml" query "list tables" 2>&1) ||
        { echo "$out" >&2; fail "the ABI 1.0 stage failed on this host"; }
    echo "$out" | grep -q "hello-answer" || fail "the answer did not come from the ABI 1.0 stage: $out"
    echo "PASS: plugins built against the ABI 1.0 headers load and run on this host"
    ;;
abidiff)
    need abidiff cc
    lib=$build/sdk/libdatachat-sdk-testing.so
    base=$src/tests/abi/datachat-sdk-testing.abi
    [ -f "$lib" ] || fail "$lib is not built"
    [ -f "$base" ] || fail "$base (the baseline) is missing"
    # Control: a library that lost every function but one must fail.
    cat >"$tmp/broken.c" <<'EOF2'
__attribute__((visibility("default"))) void *dc_test_host_new(int);
void *dc_test_host_new(int x) { return (void *)(long)x; }
EOF2
    cc -shared -fPIC -g -fvisibility=hidden -Wl,-soname,libdatachat-sdk-testing.so.1 \
        -o "$tmp/libbroken.so" "$tmp/broken.c" || fail "cannot build the control library"
    rc=0
    abidiff "$base" "$tmp/libbroken.so" >"$tmp/control.txt" 2>&1 || rc=$?
    [ $((rc & 8)) -ne 0 ] || { cat "$tmp/control.txt" >&2; fail "abidiff did not flag the broken control library (exit $rc)"; }
    echo "ok: the control library is flagged incompatible (abidiff exit $rc)"
    rc=0
    abidiff --headers-dir2 "$src/sdk/include/datachat" "$base" "$lib" >"$tmp/report.txt" 2>&1 || rc=$?
    if [ $((rc & 8)) -ne 0 ] || [ $((rc & 1)) -ne 0 ] || [ $((rc & 2)) -ne 0 ]; then
        cat "$tmp/report.txt" >&2
        fail "abidiff: $lib is not compatible with the baseline (exit $rc); restore the ABI, or raise the major version and the baseline deliberately"
    fi
    if [ $((rc & 4)) -ne 0 ]; then
        echo "compatible ABI changes against the baseline:"
        cat "$tmp/report.txt"
    fi
    echo "PASS: datachat-sdk-testing is ABI-compatible with the baseline (abidiff exit $rc)"
    ;;
*)
    fail "usage: $0 compat|abidiff SRC BUILD"
    ;;
esac
