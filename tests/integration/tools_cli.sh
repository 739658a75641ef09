#!/usr/bin/env bash
# `datachat tools` with the built-in tools: every tier, the filesystem
# tools' confinement (.., symlinks, /proc, absolute paths, NUL bytes,
# blocked names), argument validation, a row-filter policy seen through
# query_database, the tier-4 approval flow and the audit of every call.
set -u
B=${DC_BINARY_DIR:?}
DC=$B/datachat
for f in "$DC" "$B/datachat-demo-gen" "$B/plugins/tool-query_database.so" \
         "$B/plugins/tool-read_file.so" "$B/plugins/tool-update_datapoint.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$B/datachat-demo-gen" --out "$T/demo.db" --seed 7 --scale 0.05 >/dev/null 2>&1 ||
    { echo "FAIL: demo-gen"; exit 1; }
mkdir -p "$T/files/sub" "$T/files/secrets" "$T/outside" "$T/dp" "$T/policies"
echo "hello tools" >"$T/files/readme.txt"
echo "nested" >"$T/files/sub/n.txt"
echo "KEY=1" >"$T/files/.env"
echo "k" >"$T/files/server.pem"
echo "k" >"$T/files/id_rsa"
echo "s" >"$T/files/secrets/db.txt"
echo "nope" >"$T/files/private.cfg"
echo "outside" >"$T/outside/x.txt"
ln -s "$T/outside/x.txt" "$T/files/link.txt"
ln -s "$T/outside" "$T/files/linkdir"
head -c 5000 /dev/zero | tr '\0' 'a' >"$T/files/big.txt"
printf 'a\0b' >"$T/files/bin.dat"

cat >"$T/policies/p.yaml" <<YAML
principals:
  local:
    databases:
      demo:
        default_table: { allowed: true }
  regional:
    databases:
      demo:
        tables:
          customers: { row_filter: "region_id = 1" }
        default_table: { allowed: false }
YAML
cat >"$T/datachat.yaml" <<YAML
version: 1
plugins: { dirs: [$B/plugins] }
databases:
  demo: { connector: sqlite, path: $T/demo.db }
pipeline:
  entry: reply
  stages:
    reply: { use: answer }
tools:
  read_file:
    use: read_file
    with: { allowed_paths: [$T/files], blocked: ["private.*"], max_bytes: 1000 }
  list_files:
    use: list_files
    with: { allowed_paths: [$T/files], blocked: ["private.*"] }
  update_datapoint:
    use: update_datapoint
    with: { dir: $T/dp }
policies: $T/policies/*.yaml
default_principal: local
audit: { path: $T/var/audit.jsonl, fsync: never }
YAML
run() { OUT=$("$DC" --config "$T/datachat.yaml" tools call "$@" 2>"$T/err" </dev/null); RC=$?; ERR=$(cat "$T/err"); }
# expect RC [substring of stdout+stderr ...]
expect() {
    local want=$1
    shift
    if [ "$RC" != "$want" ]; then bad "$LAST: exit $RC, want $want: ${OUT:0:200} ${ERR:0:300}"; return; fi
    local s
    for s in "$@"; do
        case "$OUT$ERR" in *"$s"*) ;; *) bad "$LAST: lacks '$s': ${OUT:0:300} ${ERR:0:300}"; return ;; esac
    done
    ok
}

# The default tool set is there without configuring it.
LAST="tools list"
OUT=$("$DC" --config "$T/datachat.yaml" tools list --json); RC=$?
names=$(printf %s "$OUT" | jq -r '.[].name' | sort | tr '\n' ' ')
[ "$names" = "describe_table explain_query_plan list_files list_tables profile_table query_database read_file sample_rows update_datapoint " ] &&
    ok || bad "tools list: $names"
[ "$(printf %s "$OUT" | jq -r '.[] | select(.name=="update_datapoint") | .tier')" = 4 ] && ok ||
    bad "update_datapoint is not tier 4"
[ "$(printf %s "$OUT" | jq -r '.[] | select(.name=="query_database") | .parameters.required[0]')" = sql ] &&
    ok || bad "query_database parameters lack required sql"

# Tier 1.
LAST="query_database"; run query_database '{"sql":"SELECT count(*) AS n FROM regions"}'
expect 0 '"rows":[['
LAST="query_database refuses writes"; run query_database '{"sql":"DELETE FROM orders"}'
expect 3 E-GATE-WRITE
LAST="list_tables"; run list_tables; expect 0 '"name":"customers"'
LAST="describe_table"; run describe_table '{"table":"orders"}'; expect 0 '"name":"order_id"' '"primary_key":1'
LAST="describe_table unknown"; run describe_table '{"table":"nope"}'; expect 1 E-TOOL-NO-TABLE
LAST="sample_rows"; run sample_rows '{"table":"regions","limit":2}'
expect 0 '"row_count":2'
LAST="sample_rows quotes the name"; run sample_rows '{"table":"regions\" ; DROP TABLE x; --"}'
expect 1 E-TOOL-NO-TABLE

# Policies apply to the database tools.
all=$("$DC" --config "$T/datachat.yaml" tools call query_database '{"sql":"SELECT count(*) FROM customers"}' | jq '.rows[0][0]')
mine=$("$DC" --config "$T/datachat.yaml" --as regional tools call query_database '{"sql":"SELECT count(*) FROM customers"}' | jq '.rows[0][0]')
other=$("$DC" --config "$T/datachat.yaml" --as regional tools call query_database '{"sql":"SELECT count(*) FROM customers WHERE region_id <> 1"}' | jq '.rows[0][0]')
if [ -n "$mine" ] && [ "$mine" -gt 0 ] && [ "$mine" -lt "$all" ] && [ "$other" = 0 ]; then ok; else
    bad "row filter via query_database: all=$all regional=$mine other-regions=$other"; fi
LAST="policy denies a table to query_database"
RC=0; OUT=$("$DC" --config "$T/datachat.yaml" --as regional tools call query_database '{"sql":"SELECT * FROM orders"}' 2>"$T/err"); RC=$?; ERR=$(cat "$T/err")
expect 3
LAST="policy hides a table from sample_rows"
OUT=$("$DC" --config "$T/datachat.yaml" --as regional tools call sample_rows '{"table":"orders"}' 2>"$T/err"); RC=$?; ERR=$(cat "$T/err")
[ "$RC" != 0 ] && ok || bad "sample_rows of a denied table succeeded: $OUT"

# Tier 3.
LAST="explain_query_plan"; run explain_query_plan '{"sql":"SELECT * FROM orders WHERE order_id = 3"}'
expect 0 '"statement":"EXPLAIN QUERY PLAN' SEARCH
LAST="explain_query_plan of a write"; run explain_query_plan '{"sql":"DELETE FROM orders"}'
expect 3
LAST="profile_table"; run profile_table '{"table":"regions"}'; expect 0 '"distinct":' '"non_null":'

# Tier 2: what may be read.
LAST="read_file relative"; run read_file '{"path":"readme.txt"}'; expect 0 '"content":"hello tools\n"'
LAST="read_file absolute inside"; run read_file "{\"path\":\"$T/files/sub/n.txt\"}"; expect 0 nested
LAST="read_file size cap"; run read_file '{"path":"big.txt"}'; expect 0 '"truncated":true' '"bytes":1000'
LAST="list_files"; run list_files; expect 0 '"name":"readme.txt"' '"name":"sub"'
case "$OUT" in *'.env'*|*server.pem*|*id_rsa*|*secrets*|*private.cfg*) bad "list_files shows blocked names: $OUT" ;; *) ok ;; esac
# ...and every way out.
for p in ../outside/x.txt sub/../../outside/x.txt "$T/outside/x.txt" "$T/files/../outside/x.txt" \
         /proc/self/environ /etc/passwd; do
    LAST="read_file $p"; run read_file "{\"path\":\"$p\"}"; expect 3 E-FS-
done
LAST="read_file through a symlinked file"; run read_file '{"path":"link.txt"}'; expect 3 E-FS-SYMLINK
LAST="read_file through a symlinked directory"; run read_file '{"path":"linkdir/x.txt"}'; expect 3 E-FS-SYMLINK
LAST="list_files of a symlinked directory"; run list_files '{"path":"linkdir"}'; expect 3 E-FS-SYMLINK
LAST="read_file NUL byte"; run read_file '{"path":"readme.txt\u0000.png"}'; expect 2 "NUL characters"
for p in .env server.pem id_rsa secrets/db.txt private.cfg sub/../.env; do
    LAST="read_file blocked $p"; run read_file "{\"path\":\"$p\"}"; expect 3 E-FS-
done
LAST="read_file binary"; run read_file '{"path":"bin.dat"}'; expect 1 E-FS-BINARY
LAST="read_file missing"; run read_file '{"path":"none.txt"}'; expect 1 E-FS-NOT-FOUND
LAST="read_file of a directory"; run read_file '{"path":"sub"}'; expect 1 E-FS-NOT-FILE

# Argument validation, before any tool runs.
LAST="wrong type"; run sample_rows '{"table":5}'; expect 2 'arguments.table: must be a string'
LAST="missing"; run query_database '{}'; expect 2 'arguments.sql: is required'
LAST="extra"; run list_tables '{"bogus":1}'; expect 2 'arguments.bogus: is not a parameter'
LAST="out of range"; run query_database '{"sql":"SELECT 1","limit":1001}'; expect 2 'arguments.limit: must be <= 1000'
LAST="coerced"; run query_database '{"sql":"SELECT 1 AS one","limit":"1"}'; expect 0 '"row_count":1'
LAST="not an object"; run list_tables '[1]'; expect 2 'must be a JSON object'

# Tier 4: approvals on the CLI.
DPY=$(printf 'id: loyal_customer\ntype: concept\nname: Loyal customer\ndefinition: A customer with more than five orders.\n' | jq -Rs .)
ARGS="{\"id\":\"loyal_customer\",\"yaml\":$DPY}"
OTHER="{\"id\":\"loyal_customer2\",\"yaml\":$DPY}"
LAST="update_datapoint without approval"; run update_datapoint "$ARGS"
expect 3 E-APPROVAL-REQUIRED 'approval id: '
[ ! -e "$T/dp/loyal_customer.yaml" ] && ok || bad "a refused write wrote the file"
id=$(printf %s "$ERR" | sed -n 's/^approval id: //p')
token=$("$DC" --config "$T/datachat.yaml" tools approve "$id")
[ ${#token} = 64 ] && ok || bad "tools approve printed '$token'"
LAST="approve twice"; OUT=$("$DC" --config "$T/datachat.yaml" tools approve "$id" 2>"$T/err"); RC=$?; ERR=$(cat "$T/err")
expect 3 E-APPROVAL-GRANTED
LAST="approve an unknown id"; OUT=$("$DC" --config "$T/datachat.yaml" tools approve nope 2>"$T/err"); RC=$?; ERR=$(cat "$T/err")
expect 2 E-APPROVAL-UNKNOWN
LAST="token for other arguments"; run update_datapoint "$OTHER" --approval-token "$token"
expect 3 E-APPROVAL-MISMATCH
LAST="token spent"; run update_datapoint "$ARGS" --approval-token "$token"
expect 0 '"file":"loyal_customer.yaml"'
grep -q "Loyal customer" "$T/dp/loyal_customer.yaml" && ok || bad "the DataPoint file was not written"
LAST="token reused"; run update_datapoint "$ARGS" --approval-token "$token"
expect 3 E-APPROVAL-REUSED
LAST="made-up token"; run update_datapoint "$ARGS" --approval-token 0000
expect 3 E-APPROVAL-INVALID
# The token is a parameter of the call, never an argument: one smuggled
# into the arguments is an unknown argument and leaves the token unspent.
LAST="token inside the arguments"; run update_datapoint "$ARGS"
id=$(printf %s "$ERR" | sed -n 's/^approval id: //p')
token=$("$DC" --config "$T/datachat.yaml" tools approve "$id")
run update_datapoint "{\"id\":\"loyal_customer\",\"yaml\":$DPY,\"\$approval_token\":\"$token\"}"
expect 2 'arguments.$approval_token: is not a parameter'
LAST="token unspent after the smuggling attempt"; run update_datapoint "$ARGS" --approval-token "$token"
expect 0 '"file":"loyal_customer.yaml"'
LAST="--approve"; run update_datapoint "$OTHER" --approve
expect 0 '"file":"loyal_customer2.yaml"'
LAST="invalid DataPoint"; run update_datapoint '{"id":"bad","yaml":"id: bad\ntype: nonsense\n"}' --approve
expect 1 E-DP-INVALID
[ ! -e "$T/dp/bad.yaml" ] && ok || bad "an invalid DataPoint was written"
LAST="bad id"; run update_datapoint "{\"id\":\"../x\",\"yaml\":$DPY}" --approve
expect 2 'arguments.id'
LAST="expired token"
run update_datapoint "$ARGS"
id=$(printf %s "$ERR" | sed -n 's/^approval id: //p')
token=$(DATACHAT_APPROVAL_TIMEOUT_S=1 "$DC" --config "$T/datachat.yaml" tools approve "$id")
sleep 2
run update_datapoint "$ARGS" --approval-token "$token"
expect 3 E-APPROVAL-EXPIRED
LAST="bad timeout"; DATACHAT_APPROVAL_TIMEOUT_S=soon run update_datapoint "$ARGS"
expect 1 E-APPROVAL-TIMEOUT

# Every call is in the audit log with its tier and arguments hash.
A=$T/var/audit.jsonl
n=$(grep -c '"tool call: ' "$A")
[ "$n" -ge 40 ] && ok || bad "only $n tool calls audited"
grep '"tool call: update_datapoint"' "$A" | grep -q '"code":"E-APPROVAL-REUSED"' && ok || bad "reuse not audited"
grep '"tool call: update_datapoint"' "$A" | grep -q '"code":"E-APPROVAL-MISMATCH"' && ok || bad "mismatch not audited"
grep '"tool call: update_datapoint"' "$A" | grep -q '"code":"E-APPROVAL-EXPIRED"' && ok || bad "expiry not audited"
grep '"tool call: read_file"' "$A" | grep -q '"outcome":"refused"' && ok || bad "fs refusal not audited"
grep '"tool call: update_datapoint"' "$A" | grep -q '"tool":"update_datapoint","tool_tier":4,"args_sha256":"[0-9a-f]\{64\}"' && ok || bad "tier and arguments hash not audited as fields"
grep '"tool call: list_tables"' "$A" | grep -q '"tool_tier":1,' && ok || bad "tier 1 not audited"
grep '"tool call: ' "$A" | grep -q '"policy":"tool tier' && bad "tier still folded into policy" || ok
grep -q '"question":"approval: ' "$A" && ok || bad "grants not audited"
"$DC" audit verify "$A" >/dev/null && ok || bad "audit chain broken"
grep -q "$token" "$A" && bad "a token reached the audit log" || ok

echo "tools_cli: $pass passed, $failed failed"
[ "$failed" = 0 ]
