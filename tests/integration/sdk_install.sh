#!/bin/sh
# SDK integration checks.
#
#   sdk_install.sh install SRC BUILD
#     Installs BUILD into a temporary prefix, then builds the two SDK
#     examples out of tree against that prefix alone, once with CMake
#     (find_package(DatachatSDK)) and once with make + pkg-config. Each .so
#     must export exactly dc_plugin_describe, pass `datachat plugins check`,
#     and the stage must replace the answer stage by config alone.
#   sdk_install.sh exports BUILD
#     Every in-tree plugin in BUILD/plugins exports only dc_plugin_describe.
#
# Exit 77 (skipped) only when a build tool is missing; anything else that
# goes wrong, including a missing CLI subcommand, is a failure.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

need_tools() {
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "SKIP: $t is not installed" >&2
            exit 77
        fi
    done
}

# Exactly one defined dynamic symbol, and it is dc_plugin_describe.
check_exports() {
    so=$1
    [ -f "$so" ] || fail "$so was not built"
    syms=$(nm -D --defined-only "$so" | awk '{ print $NF }' | sort)
    if [ "$syms" != "dc_plugin_describe" ]; then
        echo "$so exports:" >&2
        echo "$syms" | sed 's/^/    /' >&2
        fail "$so must export exactly one dynamic symbol, dc_plugin_describe (build with hidden visibility)"
    fi
}

mode=${1:-}
case "$mode" in
exports)
    [ $# -eq 2 ] || fail "usage: $0 exports BUILD"
    need_tools nm awk
    build=$2
    n=0
    for so in "$build"/plugins/*.so; do
        [ -e "$so" ] || continue
        check_exports "$so"
        echo "ok: $so exports only dc_plugin_describe"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || fail "no in-tree plugins in $build/plugins; build the project first"
    exit 0
    ;;
install)
    [ $# -eq 3 ] || fail "usage: $0 install SRC BUILD"
    ;;
*)
    fail "usage: $0 install SRC BUILD | exports BUILD"
    ;;
esac

src=$2
build=$3
cmake=${CMAKE_COMMAND:-cmake}
need_tools "$cmake" pkg-config nm make cc sqlite3 awk

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-sdk-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix

echo "== install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }
[ -f "$prefix/include/datachat/plugin.h" ] || fail "headers not installed"
[ -f "$prefix/lib/pkgconfig/datachat-sdk.pc" ] || fail "datachat-sdk.pc not installed"
[ -f "$prefix/lib/cmake/DatachatSDK/DatachatSDKConfig.cmake" ] || fail "DatachatSDKConfig.cmake not installed"
[ -f "$prefix/lib/cmake/DatachatSDK/DatachatSDKConfigVersion.cmake" ] || fail "DatachatSDKConfigVersion.cmake not installed"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
plugindir=$(pkg-config --variable=plugindir datachat-sdk) || fail "pkg-config cannot read datachat-sdk.pc"
case "$plugindir" in
*/lib/datachat/plugins) ;;
*) fail "datachat-sdk.pc plugindir is '$plugindir', expected <prefix>/lib/datachat/plugins" ;;
esac

mkdir "$tmp/plugins"
for ex in hello-tool hello-stage; do
    echo "== $ex with CMake"
    "$cmake" -S "$src/sdk/examples/$ex" -B "$tmp/cmake-$ex" -DCMAKE_PREFIX_PATH="$prefix" \
        >"$tmp/cmake-$ex.log" 2>&1 || { cat "$tmp/cmake-$ex.log" >&2; fail "$ex: cmake configure failed"; }
    found=$(sed -n 's/^DatachatSDK_DIR:PATH=//p' "$tmp/cmake-$ex/CMakeCache.txt")
    [ "$found" = "$prefix/lib/cmake/DatachatSDK" ] ||
        fail "$ex: find_package used '$found', not the SDK installed in $prefix"
    "$cmake" --build "$tmp/cmake-$ex" >>"$tmp/cmake-$ex.log" 2>&1 ||
        { cat "$tmp/cmake-$ex.log" >&2; fail "$ex: cmake build failed"; }

    echo "== $ex with make + pkg-config"
    cp -R "$src/sdk/examples/$ex" "$tmp/make-$ex"
    rm -rf "$tmp/make-$ex/build"
    make -C "$tmp/make-$ex" >"$tmp/make-$ex.log" 2>&1 ||
        { cat "$tmp/make-$ex.log" >&2; fail "$ex: make failed"; }
done

for so in "$tmp/cmake-hello-tool/tool-hello.so" "$tmp/make-hello-tool/tool-hello.so" \
    "$tmp/cmake-hello-stage/stage-hello-answer.so" "$tmp/make-hello-stage/stage-hello-answer.so"; do
    check_exports "$so"
    out=$("$build/datachat" plugins check "$so" 2>&1) ||
        { echo "$out" >&2; fail "datachat plugins check $so exited non-zero"; }
    echo "$out" | grep -q "ok" || { echo "$out" >&2; fail "datachat plugins check $so did not say ok"; }
    echo "ok: $so"
done

# Swap the answer stage for the example stage by config alone: the same
# graph answers through the in-tree answer stage, then through the example.
install -m 0755 "$tmp/make-hello-stage/stage-hello-answer.so" "$tmp/plugins/"
install -m 0755 "$tmp/cmake-hello-tool/tool-hello.so" "$tmp/plugins/"
sqlite3 "$tmp/demo.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
                        INSERT INTO customers(name) VALUES ('Ada'), ('Grace');" ||
    fail "sqlite3 could not create the demo database"
write_config() { # write_config FILE ANSWER_PLUGIN
    cat >"$1" <<YAML
version: 1
plugins: { dirs: [$tmp/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: intent
  stages:
    intent: { use: intent, on: { catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    reply: { use: $2 }
tools:
  greet: { use: hello, with: { greeting: Hi } }
audit: { path: $tmp/audit.jsonl }
YAML
}
write_config "$tmp/stock.yaml" answer
write_config "$tmp/datachat.yaml" hello-answer
out=$(cd "$tmp" && "$build/datachat" --config "$tmp/stock.yaml" query "list tables" 2>"$tmp/query.err") ||
    { echo "$out"; cat "$tmp/query.err" >&2; fail "datachat query with the stock answer stage exited non-zero"; }
echo "$out" | grep -q "customers" || fail "the stock answer stage did not list the customers table"
echo "$out" | grep -q "hello-answer" && fail "the stock graph answered through the example stage"
echo "== datachat --config $tmp/datachat.yaml query \"list tables\""
out=$(cd "$tmp" && "$build/datachat" --config "$tmp/datachat.yaml" query "list tables" 2>"$tmp/query.err") ||
    { echo "$out"; cat "$tmp/query.err" >&2; fail "datachat query exited non-zero"; }
echo "$out"
echo "$out" | grep -q "Hello from the hello-answer stage: you asked: list tables" ||
    { cat "$tmp/query.err" >&2; fail "the answer did not come from the hello-answer stage"; }

# The example tool, configured with an option, called with JSON arguments.
out=$("$build/datachat" --config "$tmp/datachat.yaml" tools call greet '{"name":"Ada \"the\" first"}' 2>&1) ||
    { echo "$out" >&2; fail "datachat tools call greet exited non-zero"; }
[ "$out" = '{"greeting": "Hi, Ada \"the\" first"}' ] || [ "$out" = '{"greeting":"Hi, Ada \"the\" first"}' ] ||
    fail "tools call greet printed: $out"
rc=0
"$build/datachat" --config "$tmp/datachat.yaml" tools call greet '[1,2]' >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "tools call with non-object arguments exited $rc, wanted 2"
"$build/datachat" --config "$tmp/datachat.yaml" tools list | grep -q "greet" || fail "tools list does not show greet"
echo "PASS"
