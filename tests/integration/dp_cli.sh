#!/usr/bin/env bash
# `datachat dp list|show|lint|add` and `datachat profile` as a user runs
# them: the shipped demo DataPoints lint clean against a generated demo
# database, profiling is idempotent, precedence is shown, bad files are
# refused with file:line. The public datasets are profiled when present.
set -u
SRC=$2
DATASETS=$SRC/../shared/datasets
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

"$GEN" --out "$T/demo.db" --scale 0.05 >/dev/null || { echo "FAIL: demo generator"; exit 1; }
cp -r "$SRC/datapoints/user" "$T/user"
cat >"$T/datachat.yaml" <<EOF
version: 1
databases:
  demo: { connector: sqlite, path: demo.db }
pipeline:
  entry: intent
  stages:
    intent:
      use: intent
      on: { catalog: catalog, sql: compiler, metric: reply, tool: reply, clarify: reply, refuse: reply }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: audit.jsonl, fsync: never }
datapoints: { user: [user], managed: managed }
EOF
D() { "$DC" --config "$T/datachat.yaml" "$@"; }

# --- the shipped DataPoints against the demo database
expect 0 "demo DataPoints lint clean" -- D dp lint
has "$T/out" "13 DataPoints ok (checked against demo)" "lint summary"
expect 0 "dp list" -- D dp list
has "$T/out" "revenue" "list names revenue"
has "$T/out" "(13 DataPoints, 13 in effect)" "list count"
expect 0 "dp list --json" -- D dp list --json
has "$T/out" '"id": "average_order_value"' "list json"
expect 0 "dp show" -- D dp show revenue
has "$T/out" "source:       user ($T/user/revenue.yaml:1)" "show says where it came from"
has "$T/out" "where status IN ('paid', 'shipped', 'delivered')" "show business filter"
has "$T/out" "template (sqlite):" "show template"
expect 0 "dp show --json" -- D dp show revenue --json
has "$T/out" "\"file\": \"$T/user/revenue.yaml\"" "show json file"
has "$T/out" '"sales"' "show json synonyms"
expect 2 "dp show unknown id" -- D dp show no_such_thing
has "$T/err" "no DataPoint with id 'no_such_thing'" "unknown id message"
expect 2 "dp without subcommand" -- D dp

# --- profiling
expect 0 "profile demo" -- D profile demo
has "$T/out" "8 added, 0 changed, 0 unchanged, 0 removed" "first profile adds every table"
[ -f "$T/managed/demo/orders.yaml" ] && ok || bad "orders.yaml not written"
has "$T/managed/demo/orders.yaml" "managed: true" "managed flag"
has "$T/managed/demo/orders.yaml" "{value: delivered, count:" "top values"
has "$T/managed/demo/customers.yaml" "{column: region_id, references: regions.region_id}" "declared FK"
cp "$T/managed/demo/orders.yaml" "$T/orders.before"
expect 0 "profile again" -- D profile
has "$T/out" "0 added, 0 changed, 8 unchanged, 0 removed" "second profile changes nothing"
cmp -s "$T/orders.before" "$T/managed/demo/orders.yaml" && ok || bad "orders.yaml differs after a rerun"
expect 0 "profile --json" -- D profile demo --json
has "$T/out" '"unchanged": 8' "profile json"
has "$T/audit.jsonl" '"principal":"profiler"' "statistics audited as the profiler"
expect 0 "lint with managed DataPoints" -- D dp lint
has "$T/out" "21 DataPoints ok" "managed ones lint too"
expect 0 "dp show managed" -- D dp show schema.demo.orders
has "$T/out" "delivered (" "profiled values shown"
expect 2 "profile unknown database" -- D profile nosuchdb

# --- precedence: a hand-written schema DataPoint replaces the profile
cat >"$T/user/orders_schema.yaml" <<'EOF'
id: orders_schema
type: schema
name: Orders (curated)
table: orders
columns:
  - {name: status, type: TEXT}
EOF
expect 0 "user schema shadows managed" -- D dp show orders_schema
has "$T/out" "shadows:      managed schema.demo.orders" "show names the shadowed one"
expect 0 "shadowed one still shown" -- D dp show schema.demo.orders
has "$T/out" "shadowed by:  user orders_schema" "shadowed one names the winner"
expect 0 "list marks shadowing" -- D dp list
has "$T/out" "shadowed by orders_schema" "list note"
has "$T/out" "(22 DataPoints, 21 in effect)" "list counts the shadowed one out"
rm "$T/user/orders_schema.yaml"

# --- bad files: file:line:col and a code, exit 2
mkdir -p "$T/bad"
printf 'id: x1\ntype: concept\nname: X\nsynonymz: [a]\n' >"$T/bad/unknown.yaml"
expect 2 "unknown field" -- D dp lint "$T/bad/unknown.yaml"
has "$T/err" "$T/bad/unknown.yaml:4:1: E-DP-UNKNOWN-FIELD: unknown field 'synonymz'" "unknown field position"
printf 'id: x2\ntype: dimension\nname: X\ndata_sources:\n  - table: order\n    columns: [status]\n' >"$T/bad/table.yaml"
expect 2 "unknown table" -- D dp lint "$T/bad/table.yaml"
has "$T/err" "table.yaml:5:12: E-DP-UNKNOWN-TABLE: table 'order' does not exist in database demo" "unknown table"
has "$T/err" "did you mean 'orders'?" "table suggestion"
printf 'id: x3\ntype: metric\nname: X\nexecution:\n  parameters: {d: {type: date}}\n  sql_template: SELECT count(*) FROM orders WHERE order_date > {{d}} AND nosuch = 1\n' >"$T/bad/tmpl.yaml"
expect 2 "template fails to prepare" -- D dp lint "$T/bad/tmpl.yaml"
has "$T/err" "tmpl.yaml:6:17: E-DP-TEMPLATE-INVALID" "template position"
has "$T/err" "no such column: nosuch" "engine error"
printf 'id: x4\ntype: metric\nname: X\nexecution:\n  parameters: {d: {type: date}, unused: {type: integer}}\n  sql_template: SELECT {{d}}, {{e}}\n' >"$T/bad/params.yaml"
expect 2 "template parameters" -- D dp lint "$T/bad/params.yaml"
has "$T/err" "E-DP-PARAM-UNDECLARED" "undeclared"
has "$T/err" "params.yaml:5:33: E-DP-PARAM-UNUSED" "unused"
printf 'id: x5\ntype: concept\nname: X\nrelated_concepts: [revenue, nowhere]\n' >"$T/bad/dangling.yaml"
expect 2 "dangling related id" -- D dp lint "$T/bad/dangling.yaml"
has "$T/err" "dangling.yaml:4:29: E-DP-DANGLING-REF" "dangling position"
printf 'id: revenue\ntype: metric\nname: Again\n' >"$T/user/zz_dup.yaml"
expect 2 "duplicate id" -- D dp lint
has "$T/err" "zz_dup.yaml:1:5: E-DP-DUPLICATE-ID: duplicate id 'revenue': also defined at $T/user/revenue.yaml:1" "duplicate names both files"
# a broken DataPoint stops a question that reads DataPoints rather than
# answering without it; SQL typed by hand does not read them
expect 2 "runtime refuses broken DataPoints" -- D query "how many orders are there per status"
has "$T/err" "E-DP-DUPLICATE-ID" "runtime says why"
has "$T/err" "datachat dp lint" "runtime says what to do"
expect 0 "hand-written SQL does not read DataPoints" -- D sql "SELECT 1"
rm "$T/user/zz_dup.yaml"

# --- dp add
printf 'id: churned_customers\ntype: concept\nname: Churned customer\ndefinition: Inactive.\ndata_sources:\n  - table: customers\n    columns: [is_active]\n    filters: ["is_active = 0"]\n' >"$T/churn.yaml"
expect 0 "dp add" -- D dp add "$T/churn.yaml"
has "$T/out" "added concept churned_customers as $T/user/churn.yaml" "add message"
cmp -s "$T/churn.yaml" "$T/user/churn.yaml" && ok || bad "added file differs"
expect 2 "dp add twice" -- D dp add "$T/churn.yaml"
has "$T/err" "E-DP-ID-CLASH" "second add clashes"
printf 'id: revenue\ntype: metric\nname: Other revenue\n' >"$T/rev2.yaml"
expect 2 "dp add id clash" -- D dp add "$T/rev2.yaml"
has "$T/err" "id 'revenue' is already used by $T/user/revenue.yaml:1" "clash names the file"
cp "$T/bad/table.yaml" "$T/newbad.yaml"
expect 2 "dp add refuses a failing lint" -- D dp add "$T/newbad.yaml"
has "$T/err" "E-DP-UNKNOWN-TABLE" "add lints first"
[ ! -e "$T/user/newbad.yaml" ] && ok || bad "a failing DataPoint was copied"
expect 0 "lint after add" -- D dp lint
has "$T/out" "22 DataPoints ok" "added one counted"

# --- public datasets, when this machine has them
for ds in chinook/chinook.db sakila/sakila.db; do
    if [ ! -r "$DATASETS/$ds" ]; then
        echo "note: $DATASETS/$ds absent; its profile check is skipped"
        continue
    fi
    name=$(basename "$ds" .db)
    expect 0 "profile $name" -- D profile "$DATASETS/$ds"
    has "$T/out" "0 changed, 0 unchanged, 0 removed" "$name first profile"
    expect 0 "profile $name again" -- D profile "$DATASETS/$ds"
    has "$T/out" "0 added, 0 changed" "$name rerun"
    [ -n "$(ls "$T/managed/$name"/*.yaml 2>/dev/null)" ] && ok || bad "$name files missing"
done

finish dp_cli
