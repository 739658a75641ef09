#!/usr/bin/env bash
# Runs the datachat executable against a generated demo database and checks
# exit codes, messages and files for good and bad input.
set -u
BUILD=$1
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

"$GEN" --out "$T/demo.db" --seed 7 >/dev/null || { echo "FAIL: generator"; exit 1; }
cat >"$T/dc.yaml" <<YAML
version: 1
databases:
  demo: {connector: sqlite, path: demo.db}
pipeline:
  entry: intent
  stages:
    intent: {use: intent, on: {catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply}}
    catalog: {use: catalog, on: {ok: reply, not_found: reply}}
    reply: {use: answer}
audit: {path: audit.jsonl, fsync: always}
YAML
C="--config $T/dc.yaml"

# A catalog answer, text and JSON.
expect 0 "row count" -- "$DC" $C query "how many rows are in the orders table"
has "$T/out" "orders" "row count"
expect 0 "json answer" -- "$DC" $C --json query "list tables"
has "$T/out" '"answer"' "json answer"
has "$T/out" '"rows"' "json answer"
has "$T/out" '"trace"' "json answer"
has "$T/out" '"timings"' "json answer"

# Bad input: each one clear line, non-zero exit, never a crash.
expect 2 "empty question" -- "$DC" $C query "   "
has "$T/err" "E-QUERY-EMPTY" "empty question"
head -c 1048576 /dev/zero | tr '\0' 'a' >"$T/big.txt"
expect 2 "1 MB question" -- "$DC" $C query - <"$T/big.txt"
has "$T/err" "E-QUERY-TOO-LONG" "1 MB question"
expect 2 "unknown database" -- "$DC" $C --db nosuch query "list tables"
has "$T/err" "nosuch" "unknown database"
expect 2 "no question" -- "$DC" $C query
expect 2 "unknown option" -- "$DC" --frobnicate query "x"
has "$T/err" "--frobnicate" "unknown option"
expect 2 "unknown command" -- "$DC" frobnicate
expect 3 "destructive request" -- "$DC" $C query "drop the customers table"
has "$T/err" "E-INTENT-DESTRUCTIVE" "destructive request"

# A malformed config names file:line:col and a code.
printf 'version: 1\npipeline:\n  entry: a\n  stages:\n    a: {use: answer, bogus: 1}\n' >"$T/badkey.yaml"
expect 2 "unknown key" -- "$DC" config check "$T/badkey.yaml"
has "$T/err" "badkey.yaml:5:" "unknown key"
has "$T/err" "E-CFG-UNKNOWN-KEY" "unknown key"
printf 'version: 1\npipeline: [unclosed\n' >"$T/syntax.yaml"
expect 2 "yaml syntax" -- "$DC" --config "$T/syntax.yaml" query "list tables"
has "$T/err" "syntax.yaml:" "yaml syntax"
expect 2 "missing config" -- "$DC" --config "$T/none.yaml" query "list tables"
has "$T/err" "none.yaml" "missing config"
expect 0 "config check ok" -- "$DC" config check "$T/dc.yaml"
expect 0 "config graph" -- "$DC" $C config graph
has "$T/out" "intent" "config graph"
expect 0 "config graph dot" -- "$DC" $C config graph --dot
has "$T/out" "digraph" "config graph dot"

# `sql` runs exactly one statement through the gate; `gate explain` runs none.
expect 0 "sql select" -- "$DC" $C sql "SELECT count(*) AS n FROM orders WHERE status = 'paid'"
has "$T/out" "(1 row" "sql select"
expect 0 "sql from stdin" -- sh -c "echo 'SELECT 41 + 1 AS answer' | '$DC' $C sql --json -"
has "$T/out" '"answer"' "sql from stdin"
has "$T/out" "42" "sql from stdin"
expect 3 "sql write refused" -- "$DC" $C sql "DELETE FROM orders"
has "$T/err" "E-GATE-WRITE" "sql write refused"
expect 3 "sql json refusal" -- "$DC" $C sql --json "SELECT 1; DROP TABLE orders"
has "$T/out" '"refused"' "sql json refusal"
has "$T/out" "E-GATE-MULTI" "sql json refusal"
expect 2 "sql without statement" -- "$DC" $C sql
before=$(wc -l <"$T/audit.jsonl")
expect 3 "gate explain refusal" -- "$DC" $C gate explain "SELECT load_extension('/tmp/x')"
has "$T/out" "E-GATE-FUNC-DENIED" "gate explain refusal"
expect 0 "gate explain accept" -- "$DC" $C gate explain --json "SELECT o.order_id FROM orders o JOIN customers c USING (customer_id)"
has "$T/out" '"customers"' "gate explain accept"
after=$(wc -l <"$T/audit.jsonl")
[ "$before" -eq "$after" ] && ok || bad "gate explain wrote audit records ($before -> $after)"
grep -q '"os_user"' "$T/audit.jsonl" && ok || bad "audit records do not name the OS user"

# Ad-hoc databases: a file path works with no config at all; a URL with a
# password is refused before anything connects.
mkdir -p "$T/noconf"
expect 0 "ad-hoc file, no config" -- env -C "$T/noconf" "$DC" query --db "$T/demo.db" "how many rows are in customers"
has "$T/out" "customers" "ad-hoc file, no config"
expect 2 "ad-hoc missing file" -- env -C "$T/noconf" "$DC" query --db ./absent.db "list tables"
has "$T/err" "absent.db" "ad-hoc missing file"
expect 2 "ad-hoc directory" -- env -C "$T/noconf" "$DC" sql --db "$T/noconf" "SELECT 1"
has "$T/err" "not a regular file" "ad-hoc directory"
expect 2 "url with password" -- "$DC" $C query --db "postgresql://u:secret@localhost/x" "list tables"
has "$T/err" "PGPASSWORD" "url with password"
grep -q secret "$T/err" && bad "the password was echoed back" || ok

# An unreadable or bogus database file.
printf 'not a database at all, just text\n%.0s' $(seq 1 200) >"$T/junk.db"
sed "s#path: demo.db#path: junk.db#" "$T/dc.yaml" >"$T/junk.yaml"
expect 1 "not a database" -- "$DC" --config "$T/junk.yaml" query "list tables"
has "$T/err" "junk.db" "not a database"
sed "s#path: demo.db#path: missing.db#" "$T/dc.yaml" >"$T/missing.yaml"
expect 1 "missing database" -- "$DC" --config "$T/missing.yaml" query "list tables"
has "$T/err" "missing.db" "missing database"
expect 1 "doctor on missing database" -- "$DC" --config "$T/missing.yaml" doctor
expect 0 "doctor" -- "$DC" $C doctor
has "$T/out" "database ok" "doctor"

# A bad plugin in a configured plugin dir is refused, not loaded.
mkdir -p "$T/plugins"
printf 'garbage' >"$T/plugins/broken.so"
chmod 0644 "$T/plugins/broken.so"
sed "s#^version: 1#version: 1\nplugins: {dirs: [plugins]}#" "$T/dc.yaml" >"$T/plug.yaml"
expect 0 "plugins list" -- "$DC" --config "$T/plug.yaml" plugins list
has "$T/out" "broken.so" "plugins list"
expect 1 "plugins check garbage" -- "$DC" plugins check "$T/plugins/broken.so"
has "$T/err" "broken.so" "plugins check garbage"
expect 0 "plugins check good" -- "$DC" plugins check "$BUILD/plugins/connector-sqlite.so"
has "$T/out" "connector" "plugins check good"

# The audit log has a record per query and refusal, and verifies.
expect 0 "audit verify" -- "$DC" audit verify "$T/audit.jsonl"
lines=$(wc -l <"$T/audit.jsonl")
[ "$lines" -ge 3 ] && ok || bad "audit has $lines records, wanted >= 3"
grep -q '"refusal"' "$T/audit.jsonl" && ok || bad "no refusal record in the audit"
# Flip one byte in the first record: verify must fail and name line 1 or 2.
cp "$T/audit.jsonl" "$T/tampered.jsonl"
sed -i '1s/"seq":1/"seq":9/' "$T/tampered.jsonl"
expect 1 "audit tampered" -- "$DC" audit verify "$T/tampered.jsonl"
has "$T/out" "TAMPERED" "audit tampered"

# An audit log that cannot be written fails the request closed.
mkdir -p "$T/ro"
sed "s#path: audit.jsonl#path: ro/audit.jsonl#" "$T/dc.yaml" >"$T/ro.yaml"
if [ "$(id -u)" -ne 0 ]; then
    chmod 0555 "$T/ro"
    expect 1 "audit unwritable" -- "$DC" --config "$T/ro.yaml" query "how many rows in orders"
    chmod 0755 "$T/ro"
fi
expect 1 "audit full disk" -- "$DC" $C --audit /dev/full query "how many rows in orders"
has "$T/err" "audit" "audit full disk"

finish cli
