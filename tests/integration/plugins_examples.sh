#!/bin/sh
# The SDK examples route-stage, echo-llm and csv-connector, built out of
# tree against an installed SDK (CMake and pkg-config both) and used
# through a config file:
#   - csv-connector: a folder of CSV files answers `datachat sql` through
#     the gate (a write is refused, exit 3), the catalog stage lists and
#     describes its tables, the compiler counts rows;
#   - route-stage: swapped in by config alone, it sends a question down
#     its "match" or "other" edge by keywords from its with: block;
#   - echo-llm: its cmocka test (SDK test kit) passes and a config using it
#     as the `llm:` provider starts (doctor).
#
#   plugins_examples.sh SRC BUILD
# Exit 77 only when a build tool is missing.
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
for t in "$cmake" "$ctest" cc make pkg-config nm; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed" >&2; exit 77; }
done
for p in cmocka sqlite3; do
    pkg-config --exists "$p" || { echo "SKIP: pkg-config cannot find $p" >&2; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-examples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }
dc=$prefix/bin/datachat
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
mkdir "$tmp/plugins"

for ex in route-stage:stage-route echo-llm:llm-echo csv-connector:connector-csv; do
    dir=${ex%%:*}
    so=${ex#*:}.so
    echo "== $dir with CMake"
    "$cmake" -S "$src/sdk/examples/$dir" -B "$tmp/cmake-$dir" -DCMAKE_PREFIX_PATH="$prefix" \
        >"$tmp/$dir.log" 2>&1 || { cat "$tmp/$dir.log" >&2; fail "$dir: cmake configure failed"; }
    "$cmake" --build "$tmp/cmake-$dir" >>"$tmp/$dir.log" 2>&1 ||
        { cat "$tmp/$dir.log" >&2; fail "$dir: cmake build failed"; }
    echo "== $dir with make + pkg-config"
    cp -R "$src/sdk/examples/$dir" "$tmp/make-$dir"
    rm -rf "$tmp/make-$dir/build"
    make -C "$tmp/make-$dir" >>"$tmp/$dir.log" 2>&1 || { cat "$tmp/$dir.log" >&2; fail "$dir: make failed"; }
    grep -qi "warning:" "$tmp/$dir.log" && { cat "$tmp/$dir.log" >&2; fail "$dir builds with warnings"; }
    for f in "$tmp/cmake-$dir/$so" "$tmp/make-$dir/$so"; do
        [ -f "$f" ] || fail "$f was not built"
        syms=$(nm -D --defined-only "$f" | awk '{ print $NF }')
        [ "$syms" = dc_plugin_describe ] || fail "$f exports: $syms"
        "$dc" plugins check "$f" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "plugins check refused $f"; }
    done
    install -m 0755 "$tmp/make-$dir/$so" "$tmp/plugins/"
    echo "ok: $dir"
done

echo "== echo-llm's own test, on the SDK test kit"
"$ctest" --test-dir "$tmp/cmake-echo-llm" --output-on-failure >"$tmp/echo-test.log" 2>&1 ||
    { cat "$tmp/echo-test.log" >&2; fail "echo-llm's cmocka test failed"; }

mkdir "$tmp/csv"
cat >"$tmp/csv/customers.csv" <<'CSV'
id,name,country,total
1,Ada,UK,10.5
2,"Grace ""Amazing"" Hopper",US,20
3,Linus,FI,
CSV
printf 'id,customer_id,amount\r\n1,1,5\r\n2,1,7\r\n3,2,9\r\n' >"$tmp/csv/orders.csv"
write_config() { # write_config FILE KEYWORDS
    cat >"$1" <<YAML
version: 1
plugins: { dirs: [$tmp/plugins] }
databases:
  sales: { connector: csv, dir: $tmp/csv }
llm:
  default: { provider: echo, sql: "SELECT count(*) FROM orders", rules: ["customers => SELECT count(*) FROM customers"] }
pipeline:
  entry: route
  stages:
    route:    { use: route, with: { keywords: [$2] }, on: { match: intent, other: reply } }
    intent:   { use: intent, on: { catalog: catalog, sql: compiler, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    catalog:  { use: catalog, on: { ok: reply, not_found: reply } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply:    { use: answer }
audit: { path: $tmp/audit.jsonl }
YAML
}
write_config "$tmp/a.yaml" "tables, describe, orders"
write_config "$tmp/b.yaml" "nothing"
cd "$tmp"

echo "== csv-connector through the gate"
out=$("$dc" --config a.yaml sql "SELECT name, total FROM customers ORDER BY id" 2>&1) ||
    { echo "$out" >&2; fail "sql on the csv connector failed"; }
echo "$out" | grep -q 'Grace "Amazing" Hopper' || fail "quoted CSV field not loaded: $out"
echo "$out" | grep -q "10.5" || fail "REAL column not loaded: $out"
echo "$out" | grep -q "NULL" || fail "an empty field is not NULL: $out"
rc=0; "$dc" --config a.yaml sql "DELETE FROM customers" >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 3 ] || fail "a DELETE on the csv connector exited $rc, wanted 3 (refused)"
grep -q "E-GATE" "$tmp/err" || fail "the refusal does not come from the gate: $(cat "$tmp/err")"

echo "== catalog answers and the compiler on CSV tables, routed by config"
out=$("$dc" --config a.yaml query "list tables" 2>&1) || { echo "$out" >&2; fail "list tables failed"; }
echo "$out" | grep -q "customers, orders" || fail "list tables printed: $out"
out=$("$dc" --config a.yaml query "describe customers" 2>&1) || { echo "$out" >&2; fail "describe failed"; }
echo "$out" | grep -q "country" || fail "describe customers printed: $out"
out=$("$dc" --config a.yaml query "how many orders are there" 2>&1) || { echo "$out" >&2; fail "count failed"; }
echo "$out" | grep -q "3" || fail "the compiler did not count the orders: $out"
"$dc" --config a.yaml query --json "list tables" | grep -q '"outcome": "match"' ||
    fail "the route stage did not take the match edge"
rc=0; "$dc" --config b.yaml query --json "list tables" >"$tmp/b.json" 2>/dev/null || rc=$?
grep -q '"outcome": "other"' "$tmp/b.json" || fail "with other keywords the route stage did not take the other edge"
grep -q '"stage": "catalog"' "$tmp/b.json" && fail "the other edge still reached the catalog stage"

echo "== echo-llm as the configured provider"
"$dc" --config a.yaml doctor >"$tmp/doctor.log" 2>&1 || { cat "$tmp/doctor.log" >&2; fail "doctor failed with the echo provider configured"; }
"$dc" --config a.yaml plugins info echo | grep -q "rules" || fail "plugins info echo does not show its options"
echo "PASS"
