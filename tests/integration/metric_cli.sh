#!/usr/bin/env bash
# The metric stage in the real pipeline through the CLI, on a generated demo
# database: metric questions answer from the demo DataPoints with the SQL,
# the trace and numbers equal to what sqlite3 computes with plain SQL; bad
# input (unknown granularity, two metrics, injection) never runs SQL with it;
# a question that names no metric still reaches the compiler.
set -uo pipefail
bin=${DC_BINARY_DIR:?}
src=${DC_SOURCE_DIR:?}
dc=$bin/datachat
[ -x "$dc" ] && [ -x "$bin/datachat-demo-gen" ] || { echo "skip: CLI not built"; exit 77; }
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 CLI not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$bin/eval-demo.db
# Shared with the eval tests: a private temporary copy renamed into place.
if [ ! -s "$db" ]; then
  "$bin/datachat-demo-gen" --out "$db.$$.tmp" >/dev/null && mv -f "$db.$$.tmp" "$db" || exit 1
fi
cat >"$tmp/c.yaml" <<YAML
version: 1
databases:
  demo: { connector: sqlite, path: $db }
pipeline:
  entry: intent
  max_steps: 8
  stages:
    intent:
      use: intent
      on: { catalog: catalog, sql: metric, metric: metric, tool: reply, clarify: reply, refuse: reply }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    metric: { use: metric, on: { ok: reply, clarify: reply, no_match: compiler } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
store: { url: "sqlite:$tmp/state.db" }
datapoints: { user: [$src/datapoints/user], managed: $tmp/managed }
YAML
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=1; fi; }
q() { "$dc" --config "$tmp/c.yaml" query "$@" 2>"$tmp/err"; }
gold() { sqlite3 -separator '|' "$db" "$1"; }
done_="o.status IN ('paid', 'shipped', 'delivered')"

# --- revenue last month (relative to the real UTC date, as the stage is)
out=$(q "revenue last month"); rc=$?
want=$(gold "SELECT printf('%.2f', ROUND(COALESCE(SUM(total_amount), 0), 2)) FROM orders o WHERE $done_
             AND order_date >= date('now', 'start of month', '-1 month')
             AND order_date < date('now', 'start of month')")
got=$(sed -n '1s/.*: \([0-9.]*\)\.$/\1/p' <<<"$out")
check "revenue last month exits 0" '[ $rc -eq 0 ]'
check "revenue last month equals sqlite3 ($want)" 'awk -v a="$got" -v b="$want" "BEGIN{exit !(a+0 == b+0)}"'
check "its SQL binds the dates" 'grep -q "o.order_date >= ?3 AND o.order_date < ?4" <<<"$out"'

# --- monthly revenue in 2025: twelve rows, each equal to sqlite3's
out=$(q --json "monthly revenue in 2025"); rc=$?
check "monthly revenue exits 0" '[ $rc -eq 0 ]'
check "trace names the DataPoint and variant" 'grep -q "metric revenue (matched .revenue., .*revenue.yaml:[0-9]*), variant sqlite" <<<"$out"'
check "trace says where each value came from" 'grep -q "param grain = month (from question: .monthly.)" <<<"$out" && grep -q "param start_date = 2025-01-01 (from question: .in 2025.)" <<<"$out" && grep -q "param region = all (default)" <<<"$out"'
check "the question text is not in the SQL" '! grep -q "\"sql\": .*2025" <<<"$out"'
check "twelve rows" 'grep -q "\"row_count\": 12" <<<"$out"'
out=$(q "monthly revenue in 2025")
gold "SELECT substr(order_date, 1, 7), ROUND(SUM(total_amount), 2) FROM orders o WHERE $done_
      AND order_date >= '2025-01-01' AND order_date < '2026-01-01' GROUP BY 1 ORDER BY 1" >"$tmp/gold"
n=0
while IFS='|' read -r month value; do
  if awk -v m="$month" -v v="$value" '$1 == m && $2 + 0 == v + 0 { f = 1 } END { exit !f }' <<<"$out"; then n=$((n + 1)); fi
done <"$tmp/gold"
check "every month equals sqlite3 ($n of 12)" '[ $n -eq 12 ]'

# --- average order value by region
out=$(q "average order value by region"); rc=$?
check "aov by region exits 0" '[ $rc -eq 0 ]'
gold "SELECT r.name, ROUND(AVG(o.total_amount), 2) FROM orders o JOIN customers c USING (customer_id)
      JOIN regions r ON r.region_id = c.region_id WHERE $done_ GROUP BY 1 ORDER BY 1" >"$tmp/gold"
n=0
while IFS='|' read -r region value; do
  if grep -F "$region" <<<"$out" | awk -v v="$value" '$NF + 0 == v + 0 { f = 1 } END { exit !f }'; then n=$((n + 1)); fi
done <"$tmp/gold"
check "every region equals sqlite3 ($n of 5)" '[ $n -eq 5 ]'
check "no empty period column" '! grep -q "^period" <<<"$out"'

# --- refund rate in Q2 2026
out=$(q "refund rate in Q2 2026"); rc=$?
want=$(gold "SELECT ROUND(100.0 * SUM(status = 'refunded') / COUNT(*), 2) FROM orders
             WHERE status IN ('paid', 'shipped', 'delivered', 'refunded')
             AND order_date >= '2026-04-01' AND order_date < '2026-07-01'")
check "refund rate exits 0" '[ $rc -eq 0 ]'
check "refund rate equals sqlite3 ($want)" 'grep -q "Refund rate from 2026-04-01 before 2026-07-01: $want\." <<<"$out"'

# --- filters
out=$(q "order count in Europe for the web channel in 2025"); rc=$?
want=$(gold "SELECT COUNT(*) FROM orders o JOIN customers c USING (customer_id) JOIN regions r
             ON r.region_id = c.region_id WHERE r.name = 'Europe' AND o.channel = 'web'
             AND order_date >= '2025-01-01' AND order_date < '2026-01-01'")
check "filtered order count equals sqlite3 ($want)" '[ $rc -eq 0 ] && grep -q ": $want\.$" <<<"$out"'

# --- bad input
out=$(q "revenue by fortnight"); rc=$?
check "unknown granularity exits non-zero" '[ $rc -ne 0 ]'
check "it names the parameter and its values" 'grep -q "grain is one of total, day, week, month, quarter, year" <<<"$out" && grep -q E-METRIC-PARAM "$tmp/err"'
check "and runs no SQL" '! grep -q "SQL:" <<<"$out"'
out=$(q "revenue or order count"); rc=$?
check "two metrics ask back" 'grep -q "names two metrics, .*order_count.*revenue\|names two metrics, .*revenue.*order_count" <<<"$out" && ! grep -q "SQL:" <<<"$out"'
out=$(q "revenue since 2024-01-01'; DROP TABLE x"); rc=$?
check "injection is not run" '[ $rc -ne 0 ] && ! grep -q "SQL:" <<<"$out"'
check "no audited statement holds the injected text" '! grep -q "DROP TABLE x" "$tmp/audit.jsonl" 2>/dev/null || ! grep "\"outcome\": *\"ok\"" "$tmp/audit.jsonl" | grep -q "DROP"'

# --- business meaning before bare names: the metric's phrase is the
# metric's even though is_active and customers hold its words
out=$(q --json "how many active customers"); rc=$?
check "a metric phrase wins over schema words" '[ $rc -eq 0 ] && grep -q "metric active_customers" <<<"$out" && grep -q "COUNT(DISTINCT o.customer_id)" <<<"$out"'
check "and the trace says so" 'grep -q "precedence: user DataPoint active_customers" <<<"$out"'
# --- no metric named: the compiler answers as before
out=$(q --json "how many customers are active"); rc=$?
check "schema-grounded question still goes to the compiler" '[ $rc -eq 0 ] && grep -q "is_active" <<<"$out"'
check "with metric no_match in the trace" 'grep -q "\"outcome\": \"no_match\"" <<<"$out"'

echo "metric_cli: $pass passed"
exit $fail
