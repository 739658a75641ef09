#!/bin/sh
# `datachat plugins new` and the SDK test kit, against an installed SDK alone.
#
#   plugins_new.sh SRC BUILD
#
# Installs BUILD into a temporary prefix, then with the installed datachat
# scaffolds a plugin of every kind, builds it out of tree with CMake
# (find_package(DatachatSDK), DatachatSDK::testing) and runs its cmocka
# test with no edits; checks each .so with `plugins check` and installs the
# tool with `plugins install`. The scaffolded tool's test is also built with
# pkg-config (datachat-sdk-testing). Bad kinds, names and an existing
# directory are usage errors. Exit 77 only when a build tool is missing.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ $# -eq 2 ] || fail "usage: $0 SRC BUILD"
src=$1
build=$2
cmake=${CMAKE_COMMAND:-cmake}
ctest=$(dirname "$cmake")/ctest
[ -x "$ctest" ] || ctest=ctest
for t in "$cmake" "$ctest" cc pkg-config nm; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed" >&2; exit 77; }
done
pkg-config --exists cmocka || { echo "SKIP: cmocka's pkg-config file is missing" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-plugins-new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }
dc=$prefix/bin/datachat
[ -x "$dc" ] || fail "datachat was not installed"
[ -f "$prefix/include/datachat/testing.h" ] || fail "datachat/testing.h was not installed"
[ -f "$prefix/lib/pkgconfig/datachat-sdk-testing.pc" ] || fail "datachat-sdk-testing.pc was not installed"
[ -d "$prefix/share/datachat/templates/tool" ] || fail "the templates were not installed"

cd "$tmp"
for kind in connector llm stage tool; do
    name=my-$kind
    echo "== plugins new $kind $name"
    "$dc" plugins new "$kind" "$name" "$tmp/$kind" >"$tmp/new-$kind.log" 2>&1 ||
        { cat "$tmp/new-$kind.log" >&2; fail "plugins new $kind failed"; }
    for f in CMakeLists.txt README.md "my_$kind.c" "test_my_$kind.c"; do
        [ -f "$tmp/$kind/$f" ] || fail "plugins new $kind did not write $f"
    done
    grep -q "@" "$tmp/$kind/my_$kind.c" && fail "a template variable was left in my_$kind.c"
    "$cmake" -S "$tmp/$kind" -B "$tmp/$kind/build" -DCMAKE_PREFIX_PATH="$prefix" \
        >"$tmp/$kind.log" 2>&1 || { cat "$tmp/$kind.log" >&2; fail "$kind: cmake configure failed"; }
    "$cmake" --build "$tmp/$kind/build" >>"$tmp/$kind.log" 2>&1 ||
        { cat "$tmp/$kind.log" >&2; fail "$kind: build failed"; }
    grep -qi "warning:" "$tmp/$kind.log" && { cat "$tmp/$kind.log" >&2; fail "$kind: the scaffold builds with warnings"; }
    "$ctest" --test-dir "$tmp/$kind/build" --output-on-failure >>"$tmp/$kind.log" 2>&1 ||
        { cat "$tmp/$kind.log" >&2; fail "$kind: the scaffolded test failed"; }
    so=$tmp/$kind/build/$kind-$name.so
    [ -f "$so" ] || fail "$kind: $so was not built"
    syms=$(nm -D --defined-only "$so" | awk '{ print $NF }')
    [ "$syms" = dc_plugin_describe ] || fail "$so exports: $syms"
    "$dc" plugins check "$so" >"$tmp/check.log" 2>&1 || { cat "$tmp/check.log" >&2; fail "$kind: plugins check refused it"; }
    echo "ok: $kind builds, its test passes, plugins check accepts it"
done

echo "== the tool's test through pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -o "$tmp/pc-test" "$tmp/tool/test_my_tool.c" "$tmp/tool/my_tool.c" \
    $(pkg-config --cflags --libs datachat-sdk-testing cmocka) ||
    fail "the tool's test did not build with pkg-config"
"$tmp/pc-test" >/dev/null 2>&1 || fail "the tool's test built with pkg-config failed"

echo "== install the scaffolded tool and call it"
mkdir "$tmp/cfg"
cat >"$tmp/cfg/datachat.yaml" <<YAML
version: 1
plugins: { dirs: [$tmp/cfg/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/cfg/demo.db }
pipeline:
  entry: intent
  stages:
    intent: { use: intent, on: { catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    reply: { use: answer }
tools:
  echo: { use: my-tool, with: { prefix: heard } }
audit: { path: $tmp/cfg/audit.jsonl }
YAML
: >"$tmp/cfg/demo.db"
"$dc" --config "$tmp/cfg/datachat.yaml" plugins install "$tmp/tool/build/tool-my-tool.so" >"$tmp/inst.log" 2>&1 ||
    { cat "$tmp/inst.log" >&2; fail "plugins install of the scaffolded tool failed"; }
out=$("$dc" --config "$tmp/cfg/datachat.yaml" tools call echo '{"text":"hi"}' 2>&1) ||
    { echo "$out" >&2; fail "tools call echo failed"; }
echo "$out" | grep -q "heard: hi" || fail "tools call echo printed: $out"

echo "== bad input"
expect2() { # expect2 WHAT ARGS...
    what=$1
    shift
    rc=0
    "$dc" plugins new "$@" >/dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, wanted 2"
    echo "ok: $what: $(cat "$tmp/err")"
}
expect2 "unknown kind" gadget x "$tmp/x1"
expect2 "bad name" tool "Bad Name" "$tmp/x2"
expect2 "existing directory" tool fine "$tmp/tool"
[ ! -e "$tmp/x1" ] && [ ! -e "$tmp/x2" ] || fail "a refused plugins new created a directory"
echo "PASS"
