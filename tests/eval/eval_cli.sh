#!/usr/bin/env bash
# `datachat eval` itself, on tiny suites over the demo database: a wrong gold
# answer is reported (file:line, both SQLs) and exits 1; a good suite exits
# 0; coverage under the recorded baseline exits 1; --today and the `today:`
# header move relative dates; bad suite files (missing tab, unknown expect
# kind or flag, bad header, failing gold SQL) give file:line errors, exit 2.
set -uo pipefail
src=${DC_SOURCE_DIR:?}
bin=${DC_BINARY_DIR:?}
dc=$bin/datachat
[ -x "$dc" ] && [ -x "$bin/datachat-demo-gen" ] || { echo "skip: CLI not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$bin/eval-demo.db
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
      on: { catalog: catalog, sql: compiler, metric: reply, tool: reply, clarify: reply, refuse: reply }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
store: { url: "sqlite:$tmp/state.db" }
YAML
fail=0
check() {
  if ! eval "$2"; then
    echo "FAIL: $1"
    echo "--- out:"; cat "$tmp/out"; echo "--- err:"; cat "$tmp/err"
    fail=1
  fi
}
run() { "$dc" --config "$tmp/c.yaml" eval "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
mkdir -p "$tmp/s" "$tmp/b"

# A good suite: every kind of expectation met.
printf '%s\n' \
  '# comment' \
  'today: 2026-06-30' \
  'database: demo' \
  $'how many orders\tSELECT COUNT(*) FROM orders' \
  $'orders by status\tSELECT status, COUNT(*) FROM orders GROUP BY status' \
  $'average order total amount\tSELECT AVG(total_amount) FROM orders' \
  $'top 3 products by unit price\tSELECT * FROM products ORDER BY unit_price DESC, product_id LIMIT 3\tordered, rows=3' \
  $'describe orders\tcatalog:columns:orders' \
  $'what tables are there\tcatalog:tables' \
  $'how many rows in payments\tcatalog:count:payments' \
  $'show me 5 rows of products\tcatalog:sample:products\trows=5' \
  $'delete all orders\trefuse:E-INTENT-DESTRUCTIVE' \
  $'hello\tclarify' \
  $'customers in Brazil\tintent:sql' \
  $'what\'s the weather like\tUNSURE' >"$tmp/s/good.tsv"
run "$tmp/s/good.tsv"
check "good suite exits 0" '[ $rc -eq 0 ]'
check "summary counts every question" \
  'grep -q "good.tsv: 12 questions, answered 11, correct 11, precision 100.0%" "$tmp/out"'
run --json "$tmp/s/good.tsv"
check "--json exits 0" '[ $rc -eq 0 ]'
check "--json is JSON with the suite's numbers" \
  'jq -e ".pass and .suites[0].total == 12 and .suites[0].answered == 11 and .suites[0].correct == 11 and (.suites[0].wrong | length) == 0" "$tmp/out" >/dev/null'

# A deliberately wrong gold answer: reported and exit 1.
printf '%s\n' 'database: demo' $'how many orders\tSELECT COUNT(*) + 1 FROM orders' \
  $'how many customers\tSELECT COUNT(*) FROM customers' >"$tmp/s/wrong.tsv"
run -v "$tmp/s/wrong.tsv"
check "wrong gold answer exits 1" '[ $rc -eq 1 ]'
check "wrong answer named with file:line" 'grep -q "^WRONG $tmp/s/wrong.tsv:2: how many orders" "$tmp/out"'
check "both SQLs shown" \
  'grep -q "answer SQL: SELECT COUNT" "$tmp/out" && grep -qF "gold SQL:   SELECT COUNT(*) + 1 FROM orders" "$tmp/out"'
check "precision failure stated" 'grep -q "FAIL wrong.tsv: precision 50.0% is below 97%" "$tmp/out"'
run --json "$tmp/s/wrong.tsv"
check "--json lists the wrong answer" \
  'jq -e "(.pass | not) and (.suites[0].wrong | length) == 1 and .suites[0].wrong[0].line == 2 and (.suites[0].wrong[0].gold_sql | length) > 0" "$tmp/out" >/dev/null'

# A result where a refusal was expected is wrong, not "unanswered".
printf '%s\n' 'database: demo' $'how many orders\trefuse' >"$tmp/s/norefuse.tsv"
run "$tmp/s/norefuse.tsv"
check "answering a refuse question is wrong" '[ $rc -eq 1 ] && grep -q "answered 1, correct 0" "$tmp/out"'

# Coverage under the recorded baseline.
printf '%s\n' 'database: demo' $'how many orders\tSELECT COUNT(*) FROM orders' \
  $'how many widgets in Atlantis\tSELECT 1' >"$tmp/b/cov.tsv"
printf '# test\ncoverage cov.tsv 0.9\n' >"$tmp/b/baseline.txt"
run "$tmp/b/cov.tsv"
check "coverage below baseline exits 1" \
  '[ $rc -eq 1 ] && grep -q "FAIL cov.tsv: coverage 50.0% is below the recorded baseline 90.0%" "$tmp/out"'
printf 'coverage cov.tsv 0.5\n' >"$tmp/b/baseline.txt"
run "$tmp/b/cov.tsv"
check "coverage at baseline exits 0" '[ $rc -eq 0 ]'
printf 'coverage cov.tsv lots\n' >"$tmp/b/baseline.txt"
run "$tmp/b/cov.tsv"
check "bad baseline line is a file:line error" '[ $rc -eq 2 ] && grep -q "baseline.txt:1: E-EVAL-BASELINE" "$tmp/err"'

# Relative dates follow the header, and --today overrides it.
printf '%s\n' 'today: 2026-06-30' 'database: demo' \
  $'how many orders yesterday\tSELECT COUNT(*) FROM orders WHERE order_date >= \'2026-06-29\' AND order_date < \'2026-06-30\'' \
  >"$tmp/s/today.tsv"
run "$tmp/s/today.tsv"
check "today: header sets the date" '[ $rc -eq 0 ] && grep -q "correct 1" "$tmp/out"'
run --today 2026-06-20 "$tmp/s/today.tsv"
check "--today overrides the header" '[ $rc -eq 1 ] && grep -q "correct 0" "$tmp/out"'
run --today 2026-02-30 "$tmp/s/today.tsv"
check "--today must be a real date" '[ $rc -eq 2 ] && grep -q "YYYY-MM-DD" "$tmp/err"'

# Bad suite files: file:line:col, a stable code, exit 2, nothing run.
bad() { # name, content (printf %b), expected stderr text
  want=$3
  printf '%b' "$2" >"$tmp/s/$1.tsv"
  run "$tmp/s/$1.tsv"
  check "$1: exit 2" '[ $rc -eq 2 ]'
  check "$1: says $want" 'grep -qF -- "$want" "$tmp/err"'
  rm -f "$tmp/s/$1.tsv"
}
bad notab '# x\ndatabase: demo\nhow many orders SELECT COUNT(*) FROM orders\n' "notab.tsv:3:1: E-EVAL-NO-TAB"
bad kind 'how many orders\tsometimes\n' "kind.tsv:1:17: E-EVAL-EXPECT"
bad flag 'how many orders\tSELECT 1\tsorted\n' "flag.tsv:1:26: E-EVAL-FLAG"
bad today 'today: 2026-13-01\nhow many orders\tUNSURE\n' "today.tsv:1:8: E-EVAL-TODAY"
bad late 'how many orders\tUNSURE\ntoday: 2026-01-01\n' "late.tsv:2:1: E-EVAL-HEADER"
bad empty '# nothing\n' "empty.tsv:1:1: E-EVAL-EMPTY"
bad fields 'a\tUNSURE\tordered\textra\n' "fields.tsv:1:17: E-EVAL-FIELDS"
bad gold 'database: demo\nhow many orders\tSELECT COUNT(*) FROM no_such_table\n' "gold.tsv:2: E-EVAL-GOLD"
bad dbname 'database: nowhere\nhow many orders\tUNSURE\n' "E-EVAL-DATABASE"
run no-such-suite
check "unknown suite name exits 2" '[ $rc -eq 2 ] && grep -q "no suite .no-such-suite." "$tmp/err"'
# A directory runs every *.tsv file in it; one bad file stops the run
# before any question is asked.
printf 'how many orders\tmaybe\n' >"$tmp/s/zz-bad.tsv"
run "$tmp/s"
check "a bad file in a directory exits 2 before running" \
  '[ $rc -eq 2 ] && grep -q "zz-bad.tsv:1:17: E-EVAL-EXPECT" "$tmp/err" && [ ! -s "$tmp/out" ]'

exit $fail
