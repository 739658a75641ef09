#!/usr/bin/env bash
# Integration test of the demo database generator: determinism, size,
# referential and arithmetic consistency, date bounds and command line errors.
# Usage: test_demo_gen.sh PATH/TO/datachat-demo-gen
set -euo pipefail

gen=${1:?usage: test_demo_gen.sh PATH/TO/datachat-demo-gen}
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "FAIL: the sqlite3 command line tool is not installed (run scripts/setup)"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/demo-gen-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   - $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $1"; }
# expect NAME EXPECTED ACTUAL
expect() {
    if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
q() { sqlite3 -batch -noheader "$1" "$2"; }
dump_sum() { sqlite3 -batch "$1" .dump | sha256sum | cut -d' ' -f1; }

# --- determinism -----------------------------------------------------------
"$gen" --out "$work/a.db" --seed 7 >"$work/a.out"
"$gen" --out "$work/b.db" --seed 7 >/dev/null
sum_a=$(dump_sum "$work/a.db")
sum_b=$(dump_sum "$work/b.db")
expect "same seed gives an identical dump" "$sum_a" "$sum_b"
# Small databases are enough to see that the seed matters.
"$gen" --out "$work/s7.db" --seed 7 --scale 0.05 >/dev/null
"$gen" --out "$work/s8.db" --seed 8 --scale 0.05 >/dev/null
if [[ "$(dump_sum "$work/s7.db")" != "$(dump_sum "$work/s8.db")" ]]; then
    pass "a different seed gives different data"
else
    fail "a different seed gives different data: seeds 7 and 8 produced the same dump"
fi
if grep -q '^  total ' "$work/a.out"; then pass "summary names the total"
else fail "summary names the total: $(cat "$work/a.out")"; fi
if [[ -e "$work/a.db.tmp" ]]; then fail "no .tmp file is left behind"; else pass "no .tmp file is left behind"; fi

db=$work/a.db
# --- shape and size --------------------------------------------------------
expect "eight tables" \
    "categories customers order_items orders payments products regions transactions" \
    "$(q "$db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)")"
total=$(q "$db" "SELECT (SELECT count(*) FROM regions) + (SELECT count(*) FROM customers)
    + (SELECT count(*) FROM categories) + (SELECT count(*) FROM products)
    + (SELECT count(*) FROM orders) + (SELECT count(*) FROM order_items)
    + (SELECT count(*) FROM payments) + (SELECT count(*) FROM transactions)")
if (( total >= 200000 )); then pass "default scale has >= 200k rows ($total)"
else fail "default scale has >= 200k rows: only $total"; fi
expect "five regions" "5" "$(q "$db" "SELECT count(*) FROM regions")"
expect "foreign keys are declared" "2" \
    "$(q "$db" "SELECT count(*) FROM pragma_foreign_key_list('order_items')")"
expect "primary keys are declared" "1" \
    "$(q "$db" "SELECT count(*) FROM pragma_table_info('orders') WHERE pk = 1 AND name = 'order_id'")"
expect "statistics were gathered (ANALYZE)" "1" \
    "$(q "$db" "SELECT count(*) > 0 FROM sqlite_stat1")"

# --- consistency -----------------------------------------------------------
expect "foreign_key_check is empty" "" "$(q "$db" "PRAGMA foreign_key_check")"
expect "integrity_check is ok" "ok" "$(q "$db" "PRAGMA integrity_check")"
expect "emails are unique" "0" \
    "$(q "$db" "SELECT count(*) - count(DISTINCT email) FROM customers")"
expect "every order has items" "0" \
    "$(q "$db" "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id)")"
# Each line is rounded to the cent, so allow half a cent per line.
expect "order totals equal the sum of their discounted items" "0" \
    "$(q "$db" "SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price * (1 - discount)) s, count(*) n FROM order_items GROUP BY order_id) i USING (order_id) WHERE abs(o.total_amount - i.s) > 0.0051 * i.n")"
expect "no captured payment on pending orders" "0" \
    "$(q "$db" "SELECT count(*) FROM payments p JOIN orders o USING (order_id) WHERE o.status = 'pending' AND p.status <> 'failed'")"
expect "paid, shipped and delivered orders have exactly one captured payment of the total" "0" \
    "$(q "$db" "SELECT count(*) FROM orders o WHERE o.status IN ('paid', 'shipped', 'delivered') AND (SELECT count(*) FROM payments p WHERE p.order_id = o.order_id AND p.status = 'captured' AND abs(p.amount - o.total_amount) < 0.001) <> 1")"
expect "refunded orders have a refunded payment and a negative refund" "0" \
    "$(q "$db" "SELECT count(*) FROM orders o WHERE o.status = 'refunded' AND (NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id AND p.status = 'refunded') OR NOT EXISTS (SELECT 1 FROM transactions t WHERE t.order_id = o.order_id AND t.transaction_type = 'refund' AND abs(t.amount + o.total_amount) < 0.001))")"
expect "refunds and chargebacks are negative" "0" \
    "$(q "$db" "SELECT count(*) FROM transactions WHERE transaction_type IN ('refund', 'chargeback') AND amount >= 0")"
expect "no order before its customer signed up" "0" \
    "$(q "$db" "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) WHERE date(o.order_date) < c.signup_date")"
expect "no payment before its order" "0" \
    "$(q "$db" "SELECT count(*) FROM payments p JOIN orders o USING (order_id) WHERE p.paid_at < o.order_date")"
expect "November and December outsell the average month" "1" \
    "$(q "$db" "SELECT (SELECT count(*) FROM orders WHERE order_date >= '2025-11-01' AND order_date < '2026-01-01') / 2.0 > (SELECT count(*) FROM orders WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01') / 12.0")"
expect "the last year sells more than the first" "1" \
    "$(q "$db" "SELECT (SELECT count(*) FROM orders WHERE order_date >= '2025-07-01') > (SELECT count(*) FROM orders WHERE order_date < '2024-07-01')")"

# --- dates end at the end date ---------------------------------------------
"$gen" --out "$work/d.db" --seed 3 --scale 0.05 --end-date 2024-02-29 >/dev/null
expect "all timestamps are on or before the end date" "1" \
    "$(q "$work/d.db" "SELECT max((SELECT max(order_date) FROM orders), (SELECT max(paid_at) FROM payments), (SELECT max(created_at) FROM transactions)) <= '2024-02-29 23:59:59' AND max((SELECT max(signup_date) FROM customers), (SELECT max(launched_on) FROM products)) <= '2024-02-29'")"
expect "orders reach the end date" "2024-02-29" "$(q "$work/d.db" "SELECT date(max(order_date)) FROM orders")"
expect "about three years of orders" "1" \
    "$(q "$work/d.db" "SELECT date(min(order_date)) BETWEEN '2021-03-01' AND '2021-03-08' FROM orders")"
expect "the default end date is 2026-06-30" "2026-06-30" "$(q "$db" "SELECT date(max(order_date)) FROM orders")"

# --- overwriting -----------------------------------------------------------
set +e
"$gen" --out "$work/a.db" --seed 9 --scale 0.01 >/dev/null 2>"$work/over.err"
rc=$?
set -e
expect "refuses to overwrite without --force (exit 1)" "1" "$rc"
if grep -q -- '--force' "$work/over.err"; then pass "the refusal mentions --force"
else fail "the refusal mentions --force: $(cat "$work/over.err")"; fi
expect "the refused file is untouched" "$sum_a" "$(dump_sum "$work/a.db")"
"$gen" --out "$work/a.db" --seed 9 --scale 0.01 --force >/dev/null
if [[ "$(dump_sum "$work/a.db")" != "$sum_a" ]]; then pass "--force replaces the file"
else fail "--force replaces the file"; fi
set +e
"$gen" --out "$work/missing-dir/x.db" --scale 0.01 >/dev/null 2>"$work/dir.err"
rc=$?
set -e
expect "a missing directory fails with exit 1" "1" "$rc"
if [[ -e "$work/missing-dir/x.db.tmp" ]]; then fail "nothing left after a failed write"; else pass "nothing left after a failed write"; fi

# --- command line errors: one line naming the flag, exit 2 ------------------
# bad_flag NAME EXPECTED_WORD ARGS...
bad_flag() {
    local name=$1 word=$2
    shift 2
    local rc=0
    "$gen" "$@" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    local lines
    lines=$(wc -l <"$work/bad.err")
    if [[ $rc == 2 && $lines == 1 ]] && grep -q -- "$word" "$work/bad.err" && [[ ! -s "$work/bad.out" ]]; then
        pass "$name"
    else
        fail "$name: exit $rc, stderr: $(cat "$work/bad.err")"
    fi
}
bad_flag "unknown flag exits 2" "--bogus" --out "$work/e.db" --bogus
bad_flag "negative scale exits 2" "--scale" --out "$work/e.db" --scale -1
bad_flag "zero scale exits 2" "--scale" --out "$work/e.db" --scale 0
bad_flag "non-numeric scale exits 2" "--scale" --out "$work/e.db" --scale lots
bad_flag "impossible date exits 2" "--end-date" --out "$work/e.db" --end-date 2026-02-30
bad_flag "malformed date exits 2" "--end-date" --out "$work/e.db" --end-date 2026-6-1
bad_flag "negative seed exits 2" "--seed" --out "$work/e.db" --seed -5
bad_flag "missing --out exits 2" "--out" --seed 1
bad_flag "flag without value exits 2" "--out" --out
expect "no file written on bad input" "0" "$(find "$work" -name 'e.db*' | wc -l)"

echo "$((checks - failures)) of $checks checks passed"
(( failures == 0 ))
