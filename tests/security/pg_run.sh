#!/bin/sh
# Runs pg_cases.txt through `datachat sql --json --as PRINCIPAL` against a
# fresh PostgreSQL database loaded from pg_hr.sql under pg_policy.yaml. For
# every case: the exit status and code expected, the case's checks, no
# canary of the principal in the output, one new audit record for it (with
# the code and the policy), and every table's checksum, taken as the
# superuser before and after, unchanged (cases_lib.sh). Needs the cluster scripts/test
# starts (PGHOST, PGPORT, PGUSER); skips (77) without one unless CI=true.
# A foreign table (postgres_fdw, shipped with Debian's postgresql-15) reads
# the database's own employees through a loopback server, so that reading
# it would leak every canary. With DC_GATE_PARANOID=1 in the environment
# (the security_policy_postgres_paranoid test) the gate also parses every
# policy rewrite again whole (docs/SECURITY.md, "The splice proof").
# Usage: pg_run.sh DATACHAT SRC_DIR WORK_DIR
set -u
DC=$1 SRC=$2 WORK=$3
if [ -z "${PGHOST:-}" ] && [ -z "${DC_PG_TEST_DSN:-}" ]; then
    [ "${CI:-}" = true ] && { echo "FAIL: no PostgreSQL cluster (PGHOST unset)"; exit 1; }
    echo "no PostgreSQL cluster (PGHOST unset; scripts/test starts one); skipping"
    exit 77
fi
command -v psql >/dev/null 2>&1 || { echo "psql missing"; exit 77; }
DB=datachat_sec_$$
PSQL="psql -X -q -v ON_ERROR_STOP=1 -At"
cleanup() { $PSQL -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; }
trap cleanup EXIT
rm -rf "$WORK" && mkdir -p "$WORK/policies" || exit 1
$PSQL -d postgres -c "CREATE DATABASE $DB" || exit 1
$PSQL -d "$DB" -f "$SRC/pg_hr.sql" >/dev/null || exit 1
# The loopback server: the socket directory (or host), port and database of
# the cluster the suite runs on, as the suite's own user; no password (that
# user is the cluster's superuser, whom postgres_fdw lets connect without).
$PSQL -d "$DB" -v fdw_host="${PGHOST:-localhost}" -v fdw_port="${PGPORT:-5432}" \
    -v fdw_db="$DB" >/dev/null <<'SQL' || { echo "FAIL: postgres_fdw setup"; exit 1; }
CREATE EXTENSION postgres_fdw;
CREATE SERVER hr_loopback FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host :'fdw_host', port :'fdw_port', dbname :'fdw_db');
SELECT current_user AS fdw_user \gset
CREATE USER MAPPING FOR CURRENT_USER SERVER hr_loopback OPTIONS (user :'fdw_user');
CREATE FOREIGN TABLE remote_employees (id integer, name text, region text, ssn text,
  salary integer) SERVER hr_loopback OPTIONS (schema_name 'public', table_name 'employees');
CREATE VIEW remote_names AS SELECT name, region FROM remote_employees;
SQL
# The loopback works: refusals below are the gate's, not a broken server.
[ "$($PSQL -d "$DB" -c "SELECT count(*) FROM remote_employees WHERE region <> 'EU'")" -gt 0 ] ||
    { echo "FAIL: the foreign table reads nothing"; exit 1; }
cp "$SRC/pg_policy.yaml" "$WORK/policies/hr.yaml" || exit 1
cat >"$WORK/datachat.yaml" <<YAML
version: 1
databases:
  hr: {connector: postgres, host: "${PGHOST:-}", port: "${PGPORT:-5432}", user: "${PGUSER:-postgres}", dbname: $DB, connect_timeout_s: 5}
pipeline:
  entry: reply
  stages:
    reply:
      use: answer
audit:
  path: audit.jsonl
  fsync: never
policies: policies/*.yaml
default_principal: analyst
YAML
# Every table's rows, the objects of the schema and the large objects, as
# one digest: any write, DDL or lo_import changes it.
state_sum() {
    $PSQL -d "$DB" -c "SELECT md5(concat_ws('#',
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM departments t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM employees t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM secrets t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM projects t),
        (SELECT string_agg(s.srvname || coalesce(array_to_string(s.srvoptions, ','), ''), '|')
           FROM pg_foreign_server s),
        (SELECT string_agg(c.relname::text || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'),
        (SELECT count(*) FROM pg_largeobject_metadata)))"
}
. "$SRC/cases_lib.sh"
run_cases "$SRC/pg_cases.txt"

# Accepted statements are audited as rewritten: the filter is in the record.
grep -F '"outcome":"ok"' "$WORK/audit.jsonl" | grep -qF 'OFFSET 0' ||
    { echo "FAIL audit records do not carry the rewritten SQL"; fail=$((fail + 1)); }
verify_audit
echo "security (PostgreSQL): $pass of $total cases passed"
[ "$fail" = 0 ] && [ "$total" -ge 40 ]
