#!/usr/bin/env bash
# POST /mcp on `datachat serve`: JSON-RPC over streamable HTTP with curl.
# Auth as on every API route; notifications get 202 with no body; GET is
# 405; browser origins other than loopback are refused; `ask` runs under
# the token's principal; a malformed body is a JSON-RPC parse error.
set -u
. "$(dirname "$0")/server_lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# post BODY [curl args...]: sets CODE and BODY_OUT.
post() {
    local body=$1
    shift
    CODE=$(curl -s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        "http://127.0.0.1:$PORT/mcp" --data-binary "$body" "$@")
    BODY_OUT=$(cat "$tmp/body")
}
AUTH=(-H "Authorization: Bearer $TOKEN")
# is DESCRIPTION STATUS JQ: the status and a jq test of the body.
is() {
    if [ "$CODE" != "$2" ]; then bad "$1: status $CODE, want $2: ${BODY_OUT:0:300}"; return; fi
    if [ -n "${3:-}" ] && [ "$(printf %s "$BODY_OUT" | jq "$3" 2>&1)" != true ]; then
        bad "$1: ${BODY_OUT:0:400}"
        return
    fi
    ok
}

write_config "$tmp/cfg.yaml"
start_server "$tmp/cfg.yaml"

post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}'
is "no token" 401 '.code == "E-API-AUTH"'
post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}' "${AUTH[@]}"
is "initialize" 200 '.result.protocolVersion == "2025-03-26" and .id == 1'
post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${AUTH[@]}"
is "a notification gets 202" 202
[ -z "$BODY_OUT" ] && ok || bad "202 with a body: $BODY_OUT"
post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${AUTH[@]}"
is "tools/list" 200 '[.result.tools[].name] | index("ask") != null'
post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask","arguments":{"question":"how many orders are there"}}}' "${AUTH[@]}"
is "ask" 200 '.result.isError == false and (.result.structuredContent.sql | test("count"; "i"))'
post '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask","arguments":{"question":"drop the customers table"}}}' "${AUTH[@]}"
is "a destructive ask is a tool error" 200 '.result.isError == true'
post '{"jsonrpc":"2.0","id":5,' "${AUTH[@]}"
is "truncated JSON" 200 '.error.code == -32700'
post '[{"jsonrpc":"2.0","id":6,"method":"ping"},{"jsonrpc":"2.0","id":7,"method":"ping"}]' "${AUTH[@]}"
is "a batch" 200 'length == 2'
post '' "${AUTH[@]}"
is "an empty body" 400 '.code == "E-API-BODY"'
post '{"jsonrpc":"2.0","id":8,"method":"ping"}' "${AUTH[@]}" -H 'Origin: http://evil.example'
is "a foreign browser origin" 403 '.code == "E-API-ORIGIN" and .field == "Origin"'
post '{"jsonrpc":"2.0","id":9,"method":"ping"}' "${AUTH[@]}" -H 'Origin: http://localhost:3000'
is "a loopback origin" 200 '.id == 9'
post '{"jsonrpc":"2.0","id":10,"method":"ping"}' "${AUTH[@]}" -H 'Origin: http://localhost.evil.example'
is "a look-alike origin" 403
CODE=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "http://127.0.0.1:$PORT/mcp")
[ "$CODE" = 405 ] && ok || bad "GET /mcp: $CODE, want 405"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
post "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\",\"params\":{\"x\":\"$big\"}}" "${AUTH[@]}"
is "a body over server.limits.body_bytes" 413 '.code == "E-API-TOO-LARGE"'
if grep -q "$TOKEN" "$SERVER_ERR" "$tmp/audit.jsonl" 2>/dev/null; then
    bad "the bearer token was logged"; else ok; fi

echo "mcp_http: $pass passed, $failed failed"
[ "$failed" = 0 ]
