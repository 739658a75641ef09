#!/usr/bin/env bash
# Access policies on PostgreSQL as a user meets them: `datachat sql` and
# `datachat gate explain` with --as against the security suite's HR
# database (tests/security/pg_hr.sql, pg_policy.yaml): accepted and refused
# statements with their codes and exit statuses (0, 3), the same principal
# seeing filtered and masked rows, the rewritten SQL in explain and in the
# audit, another principal seeing what its own policy allows, the ad-hoc
# postgresql:// URL (a password in it refused), connection options and a
# keyword string passed as --db, and every table unchanged at the end.
# Usage: pg_policy_cli.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1 SRC=$2
DC=$BUILD/datachat
if [ -z "${PGHOST:-}" ]; then
    [ "${CI:-}" = true ] && { echo "FAIL: PGHOST unset: no PostgreSQL cluster"; exit 1; }
    echo "PGHOST is not set (scripts/test starts a throwaway cluster); skipping"
    exit 77
fi
command -v psql >/dev/null || { echo "psql missing"; exit 77; }
[ -x "$DC" ] || { echo "FAIL: $DC not built"; exit 1; }

DB=datachat_pgpol_$$
T=$(mktemp -d)
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
cleanup() {
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect STATUS NAME -- CMD...: stdout in $T/out, stderr in $T/err
expect() {
    local want=$1 name=$2
    shift 3
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit $rc, wanted $want"
        sed 's/^/    out: /' "$T/out" | head -8
        sed 's/^/    err: /' "$T/err" | head -5
    else ok; fi
}
has() { if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(basename "$1")"; sed 's/^/    | /' "$1" | head -8; fi; }
lacks() { if grep -qF -- "$2" "$1"; then bad "$3: '$2' in $(basename "$1")"; sed 's/^/    | /' "$1" | head -8; else ok; fi; }
sums() {
    "${PSQL[@]}" -d "$DB" -c "SELECT md5(concat_ws('#',
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM employees t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM secrets t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM departments t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM projects t)))"
}

"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" || { echo "FAIL: CREATE DATABASE"; exit 1; }
"${PSQL[@]}" -d "$DB" -f "$SRC/tests/security/pg_hr.sql" >/dev/null || { echo "FAIL: load"; exit 1; }
SUM0=$(sums)
mkdir -p "$T/policies" && cp "$SRC/tests/security/pg_policy.yaml" "$T/policies/hr.yaml"
cat >"$T/dc.yaml" <<YAML
version: 1
databases:
  hr: {connector: postgres, host: "$PGHOST", port: "${PGPORT:-5432}", user: "${PGUSER:-postgres}", dbname: $DB, connect_timeout_s: 5}
pipeline:
  entry: reply
  stages:
    reply:
      use: answer
audit:
  path: $T/audit.jsonl
  fsync: never
policies: $T/policies/*.yaml
default_principal: analyst
YAML
C=(--config "$T/dc.yaml")

# ---- one principal: filtered rows, masked values, refusals ---------------------
expect 0 "analyst reads employees" -- "$DC" "${C[@]}" sql --as analyst \
    "SELECT id, name, ssn, email FROM employees ORDER BY id"
has "$T/out" "(3 rows" "analyst reads employees"
has "$T/out" "***3331" "analyst sees ssn masked"
has "$T/out" "a***@example.eu" "analyst sees email masked"
lacks "$T/out" "CANARY" "analyst sees no hidden row"
lacks "$T/out" "111-22-3331" "analyst sees no raw ssn"
expect 3 "analyst denied column" -- "$DC" "${C[@]}" sql --as analyst "SELECT salary FROM employees"
has "$T/err" "E-POLICY-COLUMN-DENIED" "analyst denied column"
expect 3 "analyst denied table" -- "$DC" "${C[@]}" sql --as analyst "SELECT * FROM secrets"
has "$T/err" "E-POLICY-TABLE-DENIED" "analyst denied table"
# A view is put in place of its name: the filter and the masks hold inside it.
expect 0 "analyst view" -- "$DC" "${C[@]}" sql --as analyst "SELECT * FROM staff_directory"
has "$T/out" "***3331" "analyst view: ssn masked inside the view"
lacks "$T/out" "CANARY" "analyst view: no hidden row"
tail -n 1 "$T/audit.jsonl" >"$T/last"
has "$T/last" '"tables":["staff_directory","employees"]' "analyst view: the audit names the view and its table"
expect 3 "analyst materialized view" -- "$DC" "${C[@]}" sql --as analyst "SELECT * FROM emp_snapshot"
has "$T/err" "E-POLICY-MATVIEW" "analyst materialized view"
expect 3 "analyst write" -- "$DC" "${C[@]}" sql --as analyst "DELETE FROM employees"
has "$T/err" "E-GATE-WRITE" "analyst write"

# ---- gate explain prints the rewritten statement ---------------------------------
expect 0 "explain rewrite" -- "$DC" "${C[@]}" gate explain --as analyst \
    "SELECT e.name FROM employees e WHERE e.region = 'US' OR 1=1"
has "$T/out" "accepted" "explain rewrite"
has "$T/out" "region = 'EU'" "explain shows the row filter"
has "$T/out" "OFFSET 0" "explain shows the fence"
has "$T/out" "AS \"ssn\"" "explain shows the masked column"
lacks "$T/out" "\"salary\"" "explain leaves the denied column out"
expect 3 "explain refusal" -- "$DC" "${C[@]}" gate explain --as analyst \
    "WITH employees AS (SELECT 1) SELECT * FROM employees"
cat "$T/out" "$T/err" >"$T/both"
has "$T/both" "E-POLICY-DIRECT-READ" "explain refusal code"

# ---- the audit carries the rewritten SQL -------------------------------------------
grep -F '"outcome":"ok"' "$T/audit.jsonl" | grep -vF '"tables":["staff_directory"' | tail -1 >"$T/last"
has "$T/last" "OFFSET 0" "audit record holds the rewritten SQL"
has "$T/last" "\"tables\":[\"employees\"]" "audit record names the table"
has "$T/last" "masked ssn=last4" "audit record names the policy"

# ---- another principal, its own policy ---------------------------------------------
expect 0 "auditor sees every row" -- "$DC" "${C[@]}" sql --as auditor \
    "SELECT id, salary FROM employees ORDER BY id"
has "$T/out" "(6 rows" "auditor sees every row"
has "$T/out" "900000" "auditor sees salary through its sql mask"
lacks "$T/out" "917301" "auditor sees no raw salary"
expect 3 "unknown principal" -- "$DC" "${C[@]}" sql --as ghost "SELECT 1"
has "$T/err" "E-POLICY-NO-PRINCIPAL" "unknown principal"

# ---- --db: ad-hoc URL, password, options, keyword strings ----------------------------
URL="postgresql://${PGUSER:-postgres}@/$DB?host=$PGHOST&port=${PGPORT:-5432}"
expect 0 "adhoc url" -- "$DC" --db "$URL" sql "SELECT count(*) AS n FROM departments"
has "$T/out" "2" "adhoc url"
expect 3 "adhoc url refusal" -- "$DC" --db "$URL" sql "UPDATE employees SET salary = 0"
expect 2 "adhoc url with password" -- "$DC" --db \
    "postgresql://${PGUSER:-postgres}:hunter2@/$DB?host=$PGHOST&port=${PGPORT:-5432}" sql "SELECT 1"
has "$T/err" "password" "adhoc url with password"
lacks "$T/err" "hunter2" "adhoc url with password"
# Options in the URL cannot undo the read-only transaction each statement runs in.
expect 3 "url options cannot enable writes" -- "$DC" --db \
    "$URL&options=-c%20default_transaction_read_only%3Doff" sql "DELETE FROM secrets"
expect 3 "url options: a writing function stays refused" -- "$DC" --db \
    "$URL&options=-c%20default_transaction_read_only%3Doff" sql "SELECT txid_current()"
expect 2 "keyword string is not a database" -- "$DC" --db "dbname=x host=evil" sql "SELECT 1"
has "$T/err" "no database of that name" "keyword string is not a database"

[ "$(sums)" = "$SUM0" ] && ok || bad "a table changed"
echo "pg_policy_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
