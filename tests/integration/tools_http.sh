#!/usr/bin/env bash
# Tools over HTTP on a real `datachat serve`: the default tool set in GET
# /api/v1/tools, a call through POST /api/v1/tools/execute, schema errors
# as 422, filesystem refusals as 403, and the tier-4 approval flow: 403
# E-APPROVAL-REQUIRED with an id, POST /api/v1/approvals/{id} for the
# token, then the token refused when reused, for other arguments, made up
# or expired; and tier-5 `use: http` tools calling this server (bearer token
# from the environment, allow list, response cap and schema).
set -u
. "$(dirname "$0")/server_lib.sh"
for f in "$B/plugins/tool-query_database.so" "$B/plugins/tool-update_datapoint.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
req() {
    local m=$1 p=$2
    shift 2
    CODE=$(curl -s -X "$m" -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$PORT$p" \
        -H "Authorization: Bearer $TOKEN" "$@")
    BODY=$(cat "$tmp/body")
}
expect() {
    local want=$1 s
    shift
    [ "$CODE" = "$want" ] || { bad "$LAST: status $CODE, want $want: ${BODY:0:300}"; return; }
    for s in "$@"; do
        case "$BODY" in *"$s"*) ;; *) bad "$LAST: body lacks '$s': ${BODY:0:300}"; return ;; esac
    done
    ok
}
exec_tool() { req POST /api/v1/tools/execute -H 'Content-Type: application/json' -d "$1"; }

cfg=$tmp/datachat.yaml
write_config "$cfg"
mkdir -p "$tmp/dp/user"
start_server "$cfg"

LAST="GET /api/v1/tools lists the built-ins with their schema"
req GET /api/v1/tools
expect 200 '"name":"query_database"' '"name":"update_datapoint"' '"required":["sql"]'
LAST="query_database"
exec_tool '{"tool":"query_database","arguments":{"sql":"SELECT count(*) AS n FROM regions"}}'
expect 200 '"rows":[['
LAST="schema violation is 422"
exec_tool '{"tool":"query_database","arguments":{"sql":"SELECT 1","limit":5000}}'
expect 422 '"code":"E-TOOL-ARGS"' 'arguments.limit: must be <= 1000' '"field":"arguments"'
LAST="missing argument is 422"
exec_tool '{"tool":"describe_table","arguments":{}}'
expect 422 'arguments.table: is required'
LAST="read_file with no allowed paths is refused"
exec_tool '{"tool":"read_file","arguments":{"path":"/etc/passwd"}}'
expect 403 '"code":"E-FS-NO-ROOTS"'

DPY=$(printf 'id: vip\ntype: concept\nname: VIP\ndefinition: A customer with more than ten orders.\n' | jq -Rs .)
ARGS="{\"id\":\"vip\",\"yaml\":$DPY}"
LAST="tier 4 without a token"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS}"
expect 403 '"code":"E-APPROVAL-REQUIRED"' '"approval_id":"'
id=$(printf %s "$BODY" | jq -r .approval_id)
[ ! -e "$tmp/dp/user/vip.yaml" ] && ok || bad "the refused call wrote the file"
LAST="grant"; req POST "/api/v1/approvals/$id"; expect 200 '"approval_token":"'
tok=$(printf %s "$BODY" | jq -r .approval_token)
LAST="grant twice"; req POST "/api/v1/approvals/$id"; expect 409 '"code":"E-APPROVAL-GRANTED"'
LAST="grant an unknown id"; req POST /api/v1/approvals/ffff; expect 404 '"code":"E-APPROVAL-UNKNOWN"' '"field":"id"'
LAST="grant without a bearer token"
CODE=$(curl -s -X POST -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/approvals/$id")
[ "$CODE" = 401 ] && ok || bad "$LAST: status $CODE"
LAST="token for other arguments"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":{\"id\":\"vip2\",\"yaml\":$DPY},\"approval_token\":\"$tok\"}"
expect 403 '"code":"E-APPROVAL-MISMATCH"'
LAST="token spent"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"$tok\"}"
expect 200 '"file":"vip.yaml"'
grep -q VIP "$tmp/dp/user/vip.yaml" && ok || bad "vip.yaml not in the user DataPoint directory"
LAST="token reused"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"$tok\"}"
expect 403 '"code":"E-APPROVAL-REUSED"'
LAST="made-up token"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"abc\"}"
expect 403 '"code":"E-APPROVAL-INVALID"'

# Expiry: a second server whose approvals last one second, sharing the store.
kill "$SERVER_PID" 2>/dev/null
DATACHAT_APPROVAL_TIMEOUT_S=1 start_server "$cfg"
LAST="expired token"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS}"
id=$(printf %s "$BODY" | jq -r .approval_id)
req POST "/api/v1/approvals/$id"
tok=$(printf %s "$BODY" | jq -r .approval_token)
sleep 2
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"$tok\"}"
expect 403 '"code":"E-APPROVAL-EXPIRED'

# The CLI and the server share pending approvals (the store sits beside
# the audit logs; the CLI writes its own log, one writer per log).
kill "$SERVER_PID" 2>/dev/null
start_server "$cfg" # the default timeout again: a sanitizer build starts slowly
LAST="CLI grants what the server asked for"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS}"
id=$(printf %s "$BODY" | jq -r .approval_id)
tok=$("$DC" --config "$cfg" --audit "$tmp/cli-audit.jsonl" tools approve "$id" 2>"$tmp/err") || bad "tools approve: $(cat "$tmp/err")"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"$tok\"}"
expect 200 '"file":"vip.yaml"'

# The token is never an argument: smuggled into "arguments" it is an
# unknown argument (422) and leaves the token unspent.
LAST="token inside the arguments"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS}"
id=$(printf %s "$BODY" | jq -r .approval_id)
req POST "/api/v1/approvals/$id"
tok=$(printf %s "$BODY" | jq -r .approval_token)
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":{\"id\":\"vip\",\"yaml\":$DPY,\"\$approval_token\":\"$tok\"}}"
expect 422 '"code":"E-TOOL-ARGS"' 'approval_token: is not a parameter'
LAST="the token still works as the approval_token field"
exec_tool "{\"tool\":\"update_datapoint\",\"arguments\":$ARGS,\"approval_token\":\"$tok\"}"
expect 200 '"file":"vip.yaml"'

# MCP tools/call (POST /mcp): refused with the approval id in
# structuredContent, then the token in params._meta runs it once.
mcp() { req POST /mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$1"; }
MARGS="{\"id\":\"vip_mcp\",\"yaml\":$(printf 'id: vip_mcp\ntype: concept\nname: VIP MCP\ndefinition: A customer.\n' | jq -Rs .)}"
LAST="MCP tier 4 without a token"
mcp "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"update_datapoint\",\"arguments\":$MARGS}}"
expect 200 '"isError":true' 'E-APPROVAL-REQUIRED' '"approval_id":"'
id=$(printf %s "$BODY" | jq -r .result.structuredContent.approval_id)
req POST "/api/v1/approvals/$id"
tok=$(printf %s "$BODY" | jq -r .approval_token)
META="\"_meta\":{\"datachat/approval_token\":\"$tok\"}"
LAST="MCP with the token in _meta"
mcp "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"update_datapoint\",\"arguments\":$MARGS,$META}}"
expect 200 '"isError":false' 'vip_mcp.yaml'
[ -f "$tmp/dp/user/vip_mcp.yaml" ] && ok || bad "MCP call did not write vip_mcp.yaml"
LAST="MCP token reused"
mcp "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"update_datapoint\",\"arguments\":$MARGS,$META}}"
expect 200 '"isError":true' 'E-APPROVAL-REUSED'
LAST="MCP token not a string"
mcp "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"update_datapoint\",\"arguments\":$MARGS,\"_meta\":{\"datachat/approval_token\":5}}}"
expect 200 '"code":-32602' 'approval_token'


# Tier 5: YAML-described HTTP tools, against this server (loopback).
sed -e "s|$tmp/audit.jsonl|$tmp/audit-http.jsonl|" -e '/^tools:/,$d' "$cfg" >"$tmp/http.yaml"
cat >>"$tmp/http.yaml" <<YAML
tools:
  remote_tables:
    use: http
    with:
      endpoint: http://127.0.0.1:$PORT/api/v1/tools/execute
      allowed_hosts: [127.0.0.1]
      auth_token_env: DC_TEST_HTTP_TOKEN
      description: list tables through another DataChat
      parameters: '{"type":"object","properties":{"tool":{"enum":["list_tables"]},"arguments":{"type":"object"}},"required":["tool"],"additionalProperties":false}'
      response_schema: '{"type":"object","required":["result"]}'
  health_small:
    use: http
    with:
      endpoint: http://127.0.0.1:$PORT/health
      method: GET
      allowed_hosts: [127.0.0.1]
      max_response_bytes: 5
  health_schema:
    use: http
    with:
      endpoint: http://127.0.0.1:$PORT/health
      method: GET
      allowed_hosts: [127.0.0.1]
      response_schema: '{"type":"object","required":["no_such_member"]}'
  closed_port:
    use: http
    with:
      endpoint: http://127.0.0.1:1/x
      allowed_hosts: [127.0.0.1]
      connect_timeout_ms: 500
YAML
hrun() { OUT=$("$DC" --config "$tmp/http.yaml" tools call "$@" 2>"$tmp/herr" </dev/null); RC=$?; ERR=$(cat "$tmp/herr"); }
hexpect() {
    local want=$1 s
    shift
    [ "$RC" = "$want" ] || { bad "$LAST: exit $RC, want $want: ${OUT:0:200} ${ERR:0:300}"; return; }
    for s in "$@"; do
        case "$OUT$ERR" in *"$s"*) ;; *) bad "$LAST: lacks '$s': ${OUT:0:300} ${ERR:0:300}"; return ;; esac
    done
    ok
}
LAST="http tool listed as tier 5"
OUT=$("$DC" --config "$tmp/http.yaml" tools list --json 2>&1)
[ "$(printf %s "$OUT" | jq -r '.[] | select(.name=="remote_tables") | .tier')" = 5 ] && ok || bad "$LAST: $OUT"
LAST="http tool POST with the bearer token"
DC_TEST_HTTP_TOKEN=$TOKEN hrun remote_tables '{"tool":"list_tables","arguments":{}}'
hexpect 0 '"status":200' '"name":"customers"'
LAST="http tool arguments checked against its schema"
DC_TEST_HTTP_TOKEN=$TOKEN hrun remote_tables '{"tool":"update_datapoint"}'
hexpect 2 'arguments.tool: must be one of'
LAST="http tool with a wrong token"
DC_TEST_HTTP_TOKEN=wrong-token-123 hrun remote_tables '{"tool":"list_tables"}'
hexpect 1 E-HTTP-TOOL-STATUS 'HTTP 401'
LAST="http tool without its token variable"
hrun remote_tables '{"tool":"list_tables"}'
hexpect 1 E-HTTP-TOOL-TOKEN DC_TEST_HTTP_TOKEN
LAST="http tool response cap"; hrun health_small; hexpect 1 E-HTTP-TOOL-TOO-LARGE
LAST="http tool response schema"; hrun health_schema; hexpect 1 E-HTTP-TOOL-RESPONSE 'response.no_such_member: is required'
LAST="http tool connection refused"; hrun closed_port; hexpect 1 E-HTTP-TOOL-CONNECT
LAST="http tool host not allowed"
sed -e 's|allowed_hosts: \[127.0.0.1\]|allowed_hosts: [example.org]|' "$tmp/http.yaml" >"$tmp/http-bad.yaml"
OUT=$("$DC" --config "$tmp/http-bad.yaml" tools list 2>&1); RC=$?
[ "$RC" != 0 ] && case "$OUT" in *E-HTTP-TOOL-HOST*) true ;; *) false ;; esac && ok || bad "$LAST: exit $RC: $OUT"
! grep -q "$TOKEN" "$tmp/audit-http.jsonl" && ok || bad "the bearer token reached the audit log"

grep -q '"code":"E-APPROVAL-REUSED"' "$tmp/audit.jsonl" && ok || bad "reuse not audited"
grep -q '"code":"E-APPROVAL-EXPIRED"' "$tmp/audit.jsonl" && ok || bad "expiry not audited"
[ -n "$tok" ] && ! grep -q "$tok" "$tmp/audit.jsonl" "$SERVER_ERR" && ok || bad "a token was logged (or none granted)"

echo "tools_http: $pass passed, $failed failed"
[ "$failed" = 0 ]
