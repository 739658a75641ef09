#!/bin/sh
# Runs pg_cases.txt through `datachat sql --json --as PRINCIPAL` against a
# fresh PostgreSQL database loaded from pg_hr.sql under pg_policy.yaml. For
# every case: the exit status and code expected, the case's checks, no
# canary of the principal in the output, one new audit record for it (with
# the code and the policy), and every table's checksum, taken as the
# superuser before and after, unchanged. Needs the cluster scripts/test
# starts (PGHOST, PGPORT, PGUSER); skips (77) without one unless CI=true.
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
checksum() {
    $PSQL -d "$DB" -c "SELECT md5(concat_ws('#',
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM departments t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM employees t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM secrets t),
        (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM projects t),
        (SELECT string_agg(c.relname::text || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'),
        (SELECT count(*) FROM pg_largeobject_metadata)))"
}
SUM0=$(checksum) || { echo "FAIL: checksum"; exit 1; }
pass=0 fail=0 total=0

canaries() {
    case $1 in
    auditor) printf '%s\n' 111-22 999-88 9173 '+1 555' '+33 1' 'CANARY note' 'CANARY us' TOPSECRET ;;
    *) printf '%s\n' CANARY 999-88 111-22 9173 '+1 555' '+33 1' hidden TOPSECRET ;;
    esac
}

bad() {
    echo "FAIL $name: $*"
    ok=0
}

while IFS= read -r line; do
    case $line in '#'* | '') continue ;; esac
    total=$((total + 1))
    # printf, not echo: a shell's echo would expand the backslashes of U&"\0065...".
    name=$(printf '%s\n' "$line" | cut -d'|' -f1 | tr -d ' ')
    who=$(printf '%s\n' "$line" | cut -d'|' -f2 | tr -d ' ')
    expect=$(printf '%s\n' "$line" | cut -d'|' -f3 | tr -d ' ')
    checks=$(printf '%s\n' "$line" | cut -d'|' -f4 | sed 's/^ *//; s/ *$//')
    sql=$(printf '%s\n' "$line" | cut -d'|' -f5- | sed 's/^ *//')
    ok=1
    before=$(wc -l 2>/dev/null <"$WORK/audit.jsonl" || echo 0)
    out=$(cd "$WORK" && timeout 60 "$DC" sql --json --config datachat.yaml --as "$who" "$sql" 2>&1)
    rc=$?
    case $expect in
    ok) want=0 code= ;;
    refused:*) want=3 code=${expect#refused:} ;;
    error:*) want=1 code=${expect#error:} ;;
    *) bad "unknown expectation $expect"; want=-1 code= ;;
    esac
    [ "$rc" = "$want" ] || bad "exit $rc, expected $want"
    if [ -n "$code" ]; then
        echo "$out" | grep -q "\"code\": \"$code\"" || bad "code $code not in output"
    fi
    for c in $checks; do
        case $c in
        -) ;;
        rows=*) echo "$out" | grep -q "\"row_count\": ${c#rows=}," || bad "expected $c" ;;
        has=*) echo "$out" | grep -qF -- "${c#has=}" || bad "expected output to contain ${c#has=}" ;;
        trunc) echo "$out" | grep -q '"truncated": true' || bad "expected a truncated result" ;;
        *) bad "unknown check $c" ;;
        esac
    done
    # The request's own SQL is echoed back (as sent and as rewritten) and
    # timings may hold a canary's digits; everything else must be clean.
    body=$(printf '%s\n' "$out" | grep -vE '^  "sql": |"sql_run": |"(total_us|stages_us|us)": [0-9]+' |
        sed -E 's/ in [0-9]+ us//g; s/[0-9]+(\.[0-9]+)? ms//g')
    canaries "$who" >"$WORK/canaries"
    while IFS= read -r k; do
        echo "$body" | grep -qF -- "$k" && bad "canary '$k' leaked"
    done <"$WORK/canaries"
    after=$(wc -l 2>/dev/null <"$WORK/audit.jsonl" || echo 0)
    [ "$after" -eq $((before + 1)) ] || bad "expected one new audit record, got $((after - before))"
    last=$(tail -n 1 "$WORK/audit.jsonl")
    echo "$last" | grep -qF "\"principal\":\"$who\"" || bad "audit record does not name $who"
    if [ -n "$code" ]; then
        echo "$last" | grep -qF "\"code\":\"$code\"" || bad "audit record lacks $code"
    fi
    echo "$last" | grep -qF '"policy":' || bad "audit record lacks the policy applied"
    [ "$(checksum)" = "$SUM0" ] || bad "a table, the schema or the large objects changed"
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "$out" | head -n 30 | sed 's/^/    /'
    fi
done <"$SRC/pg_cases.txt"

# Accepted statements are audited as rewritten: the filter is in the record.
grep -F '"outcome":"ok"' "$WORK/audit.jsonl" | grep -qF 'OFFSET 0' ||
    { echo "FAIL audit records do not carry the rewritten SQL"; fail=$((fail + 1)); }
(cd "$WORK" && "$DC" audit verify --config datachat.yaml >/dev/null 2>&1) ||
    { echo "FAIL audit verify"; fail=$((fail + 1)); }
echo "security (PostgreSQL): $pass of $total cases passed"
[ "$fail" = 0 ] && [ "$total" -ge 40 ]
