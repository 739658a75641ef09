#!/usr/bin/env bash
# The PostgreSQL connector against a real server (the throwaway cluster that
# scripts/test starts and describes in PGHOST/PGPORT/PGUSER): catalog,
# queries, typed values, refusals by the gate's libpg_query walk, the ad-hoc
# --db URL, row cap, statement timeout, connection errors, DSN injection
# through a database name, and every table unchanged after the refusals.
# Its own database datachat_test_<pid> is created, loaded with the demo data
# and dropped at the end.
set -u
BUILD=$1
DC=$BUILD/datachat
GEN=$BUILD/datachat-demo-gen

if [ -z "${PGHOST:-}" ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: PGHOST is not set: scripts/test did not start the PostgreSQL cluster"
        exit 1
    fi
    echo "PGHOST is not set (run through scripts/test to get a throwaway cluster); skipping"
    exit 77
fi
for tool in psql; do
    command -v $tool >/dev/null || {
        if [ "${CI:-}" = true ]; then echo "FAIL: $tool missing"; exit 1; fi
        echo "$tool missing"; exit 77
    }
done
[ -x "$DC" ] || { echo "FAIL: $DC not built"; exit 1; }
[ -x "$GEN" ] || { echo "FAIL: $GEN not built"; exit 1; }
[ -f "$BUILD/plugins/connector-postgres.so" ] || { echo "FAIL: connector-postgres not built"; exit 1; }

DB=datachat_test_$$
T=$(mktemp -d)
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
cleanup() {
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE NAME -- CMD...: runs CMD, keeps stdout/stderr in $T/out/$T/err
expect() {
    local code=$1 name=$2
    shift 3
    timeout 120 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$name: exit $rc, wanted $code"
        sed 's/^/    out: /' "$T/out" | head -5
        sed 's/^/    err: /' "$T/err" | head -5
        return 1
    fi
    ok
    return 0
}
has() { # has FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then ok; else
        bad "$3: '$2' not in output"
        sed 's/^/    | /' "$1" | head -8
    fi
}
lacks() { # lacks FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then
        bad "$3: '$2' unexpectedly in output"
        sed 's/^/    | /' "$1" | head -8
    else ok; fi
}

# ---- the database ------------------------------------------------------------
"$GEN" --out "$T/demo.db" --sql-out "$T/demo.sql" --scale 0.05 >/dev/null ||
    { echo "FAIL: generator"; exit 1; }
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" || { echo "FAIL: CREATE DATABASE"; exit 1; }
"${PSQL[@]}" -d "$DB" -f "$T/demo.sql" >/dev/null || { echo "FAIL: loading demo.sql"; exit 1; }
"${PSQL[@]}" -d "$DB" -c "COMMENT ON TABLE orders IS 'one row per order'" || exit 1

TABLES="regions categories customers products orders order_items payments transactions"
checksums() {
    local t
    for t in $TABLES; do
        printf '%s ' "$t"
        "${PSQL[@]}" -d "$DB" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM $t x"
    done
    "${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace"
}
checksums >"$T/before"
ORDERS=$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM orders")
# Every table has the same rows as the SQLite file the generator wrote.
for t in $TABLES; do
    want=$(sqlite3 "$T/demo.db" "SELECT count(*) FROM $t" 2>/dev/null || echo skip)
    got=$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM $t")
    if [ "$want" = skip ] || [ "$want" = "$got" ]; then ok; else bad "sql-out: $t has $got rows, SQLite $want"; fi
done

write_config() { # write_config FILE DBNAME [extra yaml lines for the database] [limits]
    local file=$1 dbname=$2 extra=${3:-} limits=${4:-"{max_rows: 1000, timeout_ms: 30000}"}
    cat >"$file" <<YAML
version: 1
databases:
  shop: {connector: postgres, host: "$PGHOST", port: "${PGPORT:-5432}", user: "${PGUSER:-postgres}", dbname: "$dbname", connect_timeout_s: 3$extra}
pipeline:
  entry: intent
  stages:
    intent: {use: intent, on: {catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply}}
    catalog: {use: catalog, on: {ok: reply, not_found: reply}}
    reply: {use: answer}
audit: {path: audit.jsonl, fsync: always}
limits: $limits
YAML
}
write_config "$T/dc.yaml" "$DB"
C=(--config "$T/dc.yaml")

# ---- catalog and queries -----------------------------------------------------
expect 0 "describe orders" -- "$DC" "${C[@]}" query "describe orders"
has "$T/out" "order_id" "describe orders"
has "$T/out" "customer_id" "describe orders"
expect 0 "list tables" -- "$DC" "${C[@]}" query "list tables"
has "$T/out" "order_items" "list tables"
expect 0 "sql count" -- "$DC" "${C[@]}" sql "SELECT count(*) AS n FROM orders"
has "$T/out" "$ORDERS" "sql count"
expect 0 "sql join" -- "$DC" "${C[@]}" sql "SELECT c.country, count(*) AS n FROM orders o JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
has "$T/out" "(3 rows" "sql join"
expect 0 "sql explain" -- "$DC" "${C[@]}" sql "EXPLAIN SELECT * FROM orders WHERE order_id = 1"
has "$T/out" "orders" "sql explain"
expect 0 "typed values" -- "$DC" "${C[@]}" --json sql "SELECT 7::int8 AS i, 1.5::float8 AS r, 2.50::numeric AS n, true AS b, DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, '{\"k\": 1}'::jsonb AS j, 'x'::varchar AS t, '\\x0102'::bytea AS bl, NULL::int AS z"
for ty in '"int"' '"real"' '"numeric"' '"bool"' '"date"' '"timestamp"' '"json"' '"text"' '"blob"'; do
    has "$T/out" "$ty" "typed values $ty"
done
has "$T/out" "2024-01-02 03:04:05" "typed values timestamp text"
expect 3 "unknown table" -- "$DC" "${C[@]}" sql "SELECT * FROM no_such_table"
has "$T/err" "no_such_table" "unknown table"

# ---- refusals: each exit 3 with its code, nothing changes ---------------------
refuse() { # refuse CODE SQL
    expect 3 "refuse: $2" -- "$DC" "${C[@]}" sql "$2" && has "$T/err" "$1" "refuse: $2"
}
refuse E-GATE-WRITE "DELETE FROM orders"
refuse E-GATE-WRITE "UPDATE orders SET status = 'x'"
refuse E-GATE-WRITE "WITH d AS (DELETE FROM payments RETURNING *) SELECT count(*) FROM d"
refuse E-GATE-WRITE "EXPLAIN ANALYZE DELETE FROM orders"
refuse E-GATE-WRITE "TRUNCATE transactions"
refuse E-GATE-MULTI "SELECT 1; DELETE FROM orders"
refuse E-GATE-MULTI "SELECT \$\$;\$\$; DROP TABLE orders"
refuse E-GATE-DDL "DROP TABLE orders"
refuse E-GATE-DDL "CREATE TABLE evil AS SELECT * FROM customers"
refuse E-GATE-INTO "SELECT * INTO evil FROM customers"
refuse E-GATE-LOCK "SELECT * FROM orders FOR UPDATE"
refuse E-GATE-TXN "COMMIT"
refuse E-GATE-TXN "SET TRANSACTION READ WRITE"
refuse E-GATE-SESSION "SET default_transaction_read_only = off"
refuse E-GATE-SESSION "DO \$\$ BEGIN DELETE FROM orders; END \$\$"
refuse E-GATE-COPY "COPY orders TO STDOUT"
refuse E-GATE-COPY "COPY (SELECT 1) TO PROGRAM 'touch /tmp/datachat-pwned'"
refuse E-GATE-FUNC-DENIED "SELECT pg_sleep(10)"
refuse E-GATE-FUNC-DENIED "SELECT \"PG_SLEEP\"(10)"
refuse E-GATE-FUNC-DENIED "SELECT U&\"pg_\\0073leep\"(10)"
refuse E-GATE-FUNC-DENIED "SELECT pg_catalog.pg_read_file('/etc/passwd')"
refuse E-GATE-FUNC-DENIED "SELECT lo_import('/etc/passwd')"
refuse E-GATE-FUNC-DENIED "SELECT set_config('default_transaction_read_only', 'off', false)"
refuse E-GATE-FUNC-DENIED "SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, false, '')"
refuse E-GATE-FUNC-DENIED "SELECT pg_advisory_lock(1)"
refuse E-GATE-CATALOG "SELECT * FROM pg_catalog.pg_tables"
refuse E-GATE-CATALOG "SELECT table_name FROM information_schema.tables"
[ ! -e /tmp/datachat-pwned ] && ok || bad "COPY TO PROGRAM ran"
expect 3 "gate explain refusal" -- "$DC" "${C[@]}" gate explain "DELETE FROM orders"
has "$T/out" "E-GATE-WRITE" "gate explain refusal"
if [ "$(grep -c '"refused"' "$T/audit.jsonl" 2>/dev/null)" -ge 27 ]; then ok; else bad "audit: refusals not recorded"; fi
expect 0 "audit verify" -- "$DC" "${C[@]}" audit verify

checksums >"$T/after"
if cmp -s "$T/before" "$T/after"; then ok; else
    bad "table checksums changed after the refusals"
    diff "$T/before" "$T/after" | head -10
fi

# ---- the ad-hoc --db URL ------------------------------------------------------
URL="postgresql://${PGUSER:-postgres}@/$DB?host=$PGHOST&port=${PGPORT:-5432}"
expect 0 "adhoc url" -- "$DC" "${C[@]}" --db "$URL" sql "SELECT count(*) AS n FROM orders"
has "$T/out" "$ORDERS" "adhoc url"
expect 3 "adhoc url refusal" -- "$DC" "${C[@]}" --db "$URL" sql "DELETE FROM orders"

# ---- limits ------------------------------------------------------------------
write_config "$T/cap.yaml" "$DB" "" "{max_rows: 5, timeout_ms: 30000}"
expect 0 "row cap" -- "$DC" --config "$T/cap.yaml" sql "SELECT * FROM order_items"
has "$T/out" "(5 rows, truncated at the row cap" "row cap"
expect 0 "row cap not hit" -- "$DC" --config "$T/cap.yaml" sql "SELECT * FROM regions"
lacks "$T/out" "truncated" "row cap not hit"
write_config "$T/slow.yaml" "$DB" "" "{max_rows: 1000, timeout_ms: 300}"
start=$(date +%s)
expect 1 "statement timeout" -- "$DC" --config "$T/slow.yaml" sql "SELECT count(*) FROM generate_series(1, 1e9)"
has "$T/err" "E-GATE-TIMEOUT" "statement timeout"
has "$T/err" "300 ms" "statement timeout"
[ $(( $(date +%s) - start )) -lt 20 ] && ok || bad "statement timeout took too long"

# ---- connection errors: one clear line, exit 1 ---------------------------------
write_config "$T/nodb.yaml" "datachat_no_such_db_$$"
expect 1 "wrong dbname" -- "$DC" --config "$T/nodb.yaml" sql "SELECT 1"
has "$T/err" "datachat_no_such_db_$$" "wrong dbname"
has "$T/err" "does not exist" "wrong dbname"
[ "$(wc -l <"$T/err")" -le 2 ] && ok || bad "wrong dbname: more than one line"
write_config "$T/inject.yaml" "x host=192.0.2.1 port=1"
expect 1 "dbname injection" -- "$DC" --config "$T/inject.yaml" sql "SELECT 1"
has "$T/err" 'database "x host=192.0.2.1 port=1"' "dbname injection"
lacks "$T/err" "192.0.2.1:1" "dbname injection"
sed -e "s|host: \"$PGHOST\", port: \"${PGPORT:-5432}\"|host: 127.0.0.1, port: \"1\"|" "$T/dc.yaml" >"$T/unreach.yaml"
expect 1 "unreachable host" -- "$DC" --config "$T/unreach.yaml" sql "SELECT 1"
has "$T/err" "cannot connect" "unreachable host"
has "$T/err" "127.0.0.1" "unreachable host"
write_config "$T/pw.yaml" "$DB" ", dsn: \"postgresql://u:secret@/x\""
expect 2 "password in dsn" -- "$DC" --config "$T/pw.yaml" sql "SELECT 1"
has "$T/err" "password" "password in dsn"
lacks "$T/err" "secret" "password in dsn"
write_config "$T/pwenv.yaml" "$DB" ", password_env: DC_TEST_NO_SUCH_VAR_$$"
expect 1 "password_env unset" -- "$DC" --config "$T/pwenv.yaml" sql "SELECT 1"
has "$T/err" "DC_TEST_NO_SUCH_VAR_$$" "password_env unset"

echo "postgres: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
