#!/usr/bin/env bash
# The compiler stage inside the real pipeline through the CLI, with a config
# whose graph routes intent's `sql` outcome to it: an answered question exits
# 0 with SQL and rows; an ungrounded one exits 1 with E-UNSURE and names what
# was not understood, and no SQL.
set -uo pipefail
bin=${DC_BINARY_DIR:?}
dc=$bin/datachat
[ -x "$dc" ] && [ -x "$bin/datachat-demo-gen" ] || { echo "skip: CLI not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$bin/eval-demo.db
# Tests run in parallel and share this file: each writes its own temporary
# copy and renames it into place, so a reader never sees a partial file.
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
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

out=$("$dc" --config "$tmp/c.yaml" query "top 3 categories by number of products" 2>"$tmp/err"); rc=$?
check "answered question exits 0" '[ $rc -eq 0 ]'
check "answer sentence says what was computed" 'grep -q "Top 3 categories by number of products" <<<"$out"'
check "SQL is shown with a bound parameter" 'grep -q "SQL: SELECT .*LIMIT ?1" <<<"$out"'

out=$("$dc" --config "$tmp/c.yaml" query "show me the churn" 2>"$tmp/err"); rc=$?
check "ungrounded question exits 1" '[ $rc -eq 1 ]'
check "E-UNSURE on stderr" 'grep -q "E-UNSURE" "$tmp/err"'
check "the answer names the unknown word" "grep -q \"'churn'\" <<<\"\$out\""
check "no SQL for an unsure answer" '! grep -q "SQL:" <<<"$out"'

out=$("$dc" --config "$tmp/c.yaml" query --json "how many customers in Brazil" 2>/dev/null); rc=$?
check "json answer exits 0" '[ $rc -eq 0 ]'
check "json carries the SQL without the value" 'grep -q "\"sql\": \"SELECT COUNT(\*)" <<<"$out" && ! grep -q "Brazil\\\\\"" <<<"$out"'
check "trace names the grounded value" 'grep -q "is a value of customers.country" <<<"$out"'
exit $fail
