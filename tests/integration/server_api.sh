#!/usr/bin/env bash
# The HTTP API end to end: the real `datachat serve` on a free loopback port,
# driven with curl. Every route, auth failures, the {code, message, field}
# error of every bad request, SSE, DataPoint upload, the OpenAPI document in
# sync with the routes, startup refusals and a clean SIGTERM.
set -u
. "$(dirname "$0")/server_lib.sh"

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# req METHOD PATH [curl args...]: sets CODE, BODY (and HDRS).
req() {
    local m=$1 p=$2
    shift 2
    CODE=$(curl -s -X "$m" -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' \
        "http://127.0.0.1:$PORT$p" "$@")
    BODY=$(cat "$tmp/body")
    HDRS=$(cat "$tmp/hdrs")
}
AUTH=(-H "Authorization: Bearer $TOKEN")

# expect CODE [substring ...]: the last request's status and body.
expect() {
    local want=$1 what="$LAST"
    shift
    if [ "$CODE" != "$want" ]; then
        bad "$what: status $CODE, want $want; body: ${BODY:0:300}"
        return
    fi
    local s
    for s in "$@"; do
        case "$BODY" in
        *"$s"*) ;;
        *) bad "$what: body lacks '$s': ${BODY:0:300}"; return ;;
        esac
    done
    ok
}
# Every 4xx body is {code, message, field}.
expect_error() {
    local want=$1 code=$2 field=$3
    expect "$want" "\"code\":\"$code\"" '"message":"' "\"field\":$field"
}

cfg=$tmp/datachat.yaml
write_config "$cfg"
start_server "$cfg"
DRIVEN=()
drive() { DRIVEN+=("$1"); }

LAST="GET /health"; drive /health
req GET /health; expect 200 '"status":"ok"'
LAST="GET /ready"; drive /ready
req GET /ready; expect 200 '"status":"ready"' '"reachable":true'
LAST="GET /api/v1/openapi.json"; drive /api/v1/openapi.json
req GET /api/v1/openapi.json; expect 200 '"openapi":"3.1.0"' '"bearer"'
openapi=$BODY

LAST="chat without a token"; drive /api/v1/chat
req POST /api/v1/chat -d '{"message":"list tables"}'
expect_error 401 E-API-AUTH '"Authorization"'
case "$HDRS" in *"WWW-Authenticate: Bearer"*) ok ;; *) bad "401 lacks WWW-Authenticate" ;; esac
LAST="chat with a bad token"
req POST /api/v1/chat -H "Authorization: Bearer wrong-token" -d '{"message":"list tables"}'
expect_error 401 E-API-AUTH '"Authorization"'
LAST="chat with a token one character short"
req POST /api/v1/chat -H "Authorization: Bearer ${TOKEN%?}" -d '{"message":"list tables"}'
expect_error 401 E-API-AUTH '"Authorization"'
LAST="chat with basic auth"
req POST /api/v1/chat -H "Authorization: Basic YWxpY2U6eA==" -d '{"message":"list tables"}'
expect_error 401 E-API-AUTH '"Authorization"'
if grep -q "$TOKEN" "$SERVER_ERR" "$tmp/audit.jsonl" 2>/dev/null; then
    bad "a bearer token appears in the server's output or the audit log"
else ok; fi

LAST="chat JSON"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"list tables","session_id":"s-1"}'
expect 200 '"answer":"There are 8 tables' '"columns":[' '"rows":[[' '"trace":[' \
    '"timings":{' '"session_id":"s-1"' '"database":"demo"'
LAST="chat with target_database"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"describe orders","target_database":"demo"}'
expect 200 '"answer":' '"order_id"'
LAST="chat on an unknown database"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"list tables","database":"nope"}'
expect_error 404 E-DB-UNKNOWN '"database"'
LAST="chat with two different databases"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"x","database":"demo","target_database":"b"}'
expect_error 400 E-API-CONFLICT '"target_database"'
LAST="chat refused (destructive request)"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"drop table orders"}'
expect 403 '"refused":{' '"code":"' '"field":null'
LAST="chat with an empty question"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"   "}'
expect_error 400 E-QUERY-EMPTY '"message"'

LAST="chat SSE"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"list tables","stream":true}'
case "$HDRS" in *"Content-Type: text/event-stream"*) ok ;; *) bad "SSE content type: $HDRS" ;; esac
# Parse the stream: blank-line separated events of "event:" and "data:" lines.
ntrace=0; nanswer=0; order_ok=1; seen_answer=0
while IFS= read -r line; do
    case "$line" in
    "event: trace") [ $seen_answer = 1 ] && order_ok=0; ntrace=$((ntrace + 1)) ;;
    "event: answer") nanswer=$((nanswer + 1)); seen_answer=1 ;;
    "data: {"*"}") ;;
    "") ;;
    *) bad "SSE: unexpected line '$line'" ;;
    esac
done <"$tmp/body"
if [ $ntrace -ge 3 ] && [ $nanswer = 1 ] && [ $order_ok = 1 ]; then ok; else
    bad "SSE: $ntrace trace events, $nanswer answers, order ok $order_ok"; fi
grep -q '^data: {"stage":"intent"' "$tmp/body" && ok || bad "SSE: no intent trace step"
grep -q '^data: {"question":"list tables"' "$tmp/body" && ok || bad "SSE: no answer data"

# Bad requests.
LAST="malformed JSON"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":'
expect_error 400 E-API-JSON null
LAST="a JSON array body"
req POST /api/v1/chat "${AUTH[@]}" -d '["list tables"]'
expect_error 400 E-API-JSON null
LAST="duplicate keys"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"a","message":"b"}'
expect_error 400 E-API-JSON null
LAST="wrong type"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":42}'
expect_error 422 E-API-TYPE '"message"'
LAST="wrong type for stream"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"list tables","stream":"yes"}'
expect_error 422 E-API-TYPE '"stream"'
LAST="missing field"
req POST /api/v1/chat "${AUTH[@]}" -d '{}'
expect_error 422 E-API-MISSING-FIELD '"message"'
LAST="unknown field"
req POST /api/v1/chat "${AUTH[@]}" -d '{"message":"list tables","mesage":"x"}'
expect_error 400 E-API-UNKNOWN-FIELD '"mesage"'
LAST="10 MB body"
head -c 10485760 /dev/zero | tr '\0' 'a' >"$tmp/big"
req POST /api/v1/chat "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$tmp/big"
expect_error 413 E-API-TOO-LARGE null
# -m: the daemon once moved one buffer per 200 ms tick (minutes for this).
LAST="10 MB chunked body"
req POST /api/v1/chat "${AUTH[@]}" -m 30 -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big"
expect_error 413 E-API-TOO-LARGE null
LAST="unknown route"
req GET /api/v1/nope "${AUTH[@]}"
expect_error 404 E-API-NOT-FOUND null
LAST="wrong method"
req DELETE /api/v1/chat "${AUTH[@]}"
expect_error 405 E-API-METHOD null
case "$HDRS" in *"Allow: POST"*) ok ;; *) bad "405 lacks Allow: POST" ;; esac
LAST="body on a GET route"
req GET /api/v1/databases "${AUTH[@]}" -d '{"x":1}'
expect_error 400 E-API-BODY null
LAST="over-size headers"
req GET /health -m 30 -H "X-Pad: $(head -c 70000 /dev/zero | tr '\0' 'h')"
case "$CODE" in 413|431) ok ;; *) bad "over-size headers: status $CODE" ;; esac

# Tools, databases, DataPoints.
LAST="GET /api/v1/tools"; drive /api/v1/tools
req GET /api/v1/tools "${AUTH[@]}"; expect 200 '"tools":['
LAST="POST /api/v1/tools/execute unknown tool"; drive /api/v1/tools/execute
req POST /api/v1/tools/execute "${AUTH[@]}" -d '{"tool":"nope","arguments":{}}'
expect_error 404 E-TOOL-UNKNOWN '"tool"'
LAST="tools/execute with arguments not an object"
req POST /api/v1/tools/execute "${AUTH[@]}" -d '{"tool":"nope","arguments":[1]}'
expect_error 422 E-API-TYPE '"arguments"'
LAST="POST /api/v1/approvals/{id} unknown id"; drive "/api/v1/approvals/{id}"
req POST /api/v1/approvals/0123 "${AUTH[@]}"
expect_error 404 E-APPROVAL-UNKNOWN '"id"'
LAST="GET /api/v1/databases"; drive /api/v1/databases
req GET /api/v1/databases "${AUTH[@]}"
expect 200 '"name":"demo"' '"connector":"sqlite"' '"default":true'
LAST="POST /api/v1/feedback unknown answer"; drive /api/v1/feedback
req POST /api/v1/feedback "${AUTH[@]}" -d '{"answer_id":"nope","verdict":"right"}'
expect 404 '"code":"E-FEEDBACK-UNKNOWN-ANSWER"' '"field":"answer_id"'
LAST="GET /api/v1/datapoints"; drive /api/v1/datapoints
req GET /api/v1/datapoints "${AUTH[@]}"; expect 200 '"datapoints":['
dp='id: big_orders\ntype: concept\nname: Big orders\ndefinition: Orders over 100.\n'
LAST="POST /api/v1/datapoints"
req POST /api/v1/datapoints "${AUTH[@]}" -d "{\"file\":\"big.yaml\",\"content\":\"$dp\"}"
expect 201 '"id":"big_orders"' '"type":"concept"'
[ -f "$tmp/dp/user/big.yaml" ] && ok || bad "the DataPoint file was not written"
req GET /api/v1/datapoints "${AUTH[@]}"; LAST="datapoints list after upload"
expect 200 '"id":"big_orders"'
LAST="the same file again"
req POST /api/v1/datapoints "${AUTH[@]}" -d "{\"file\":\"big.yaml\",\"content\":\"${dp/big_orders/other}\"}"
expect_error 409 E-DP-FILE-EXISTS '"file"'
LAST="the same id in another file"
req POST /api/v1/datapoints "${AUTH[@]}" -d "{\"file\":\"big2.yaml\",\"content\":\"$dp\"}"
expect_error 409 E-DP-ID-CLASH '"content"'
LAST="an invalid DataPoint"
req POST /api/v1/datapoints "${AUTH[@]}" -d '{"file":"x.yaml","content":"id: x\ntype: nonsense\n"}'
expect 422 '"code":"E-DP-' '"field":"content"' '"problems":['
[ -f "$tmp/dp/user/x.yaml" ] && bad "an invalid DataPoint was written" || ok
LAST="a path as the file name"
req POST /api/v1/datapoints "${AUTH[@]}" -d "{\"file\":\"../evil.yaml\",\"content\":\"$dp\"}"
expect_error 400 E-API-FIELD '"file"'

# Profiling jobs: started in the background, polled until done.
LAST="POST /api/v1/profiling/jobs"; drive /api/v1/profiling/jobs
req POST /api/v1/profiling/jobs "${AUTH[@]}" -d '{"database":"demo"}'
expect 202 '"id":"' '"status":"'
# poll_job: GETs the job named in the last reply until it is done or
# failed (30 s at most); its last reply is in CODE and BODY.
poll_job() {
    local job
    job=$(printf %s "$BODY" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
    for _ in $(seq 1 300); do
        req GET "/api/v1/profiling/jobs/$job" "${AUTH[@]}"
        case "$BODY" in *'"status":"done"'*|*'"status":"failed"'*) return ;; esac
        sleep 0.1
    done
}
job=$(printf %s "$BODY" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
LAST="GET /api/v1/profiling/jobs/{id}"; drive "/api/v1/profiling/jobs/{id}"
poll_job
expect 200 '"status":"done"' '"result":{' '"added":'
done_n=$(printf %s "$BODY" | sed -n 's/.*"tables_done":\([0-9]*\).*/\1/p')
total_n=$(printf %s "$BODY" | sed -n 's/.*"tables_total":\([0-9]*\).*/\1/p')
if [ -n "$total_n" ] && [ "$total_n" -gt 0 ] && [ "$done_n" = "$total_n" ]; then ok; else
    bad "profiling progress ended at ${done_n:-?} of ${total_n:-?}: ${BODY:0:300}"; fi
n_yaml=$(ls "$tmp/dp/managed/demo/"*.yaml 2>/dev/null | wc -l)
[ "$n_yaml" = "$total_n" ] && ok || bad "the job wrote $n_yaml managed files for $total_n tables"
LAST="the job is another principal's"
req GET "/api/v1/profiling/jobs/$job" -H "Authorization: Bearer $TOKEN_BOB"
expect_error 404 E-JOB-UNKNOWN '"id"'
LAST="profiling one table"
req POST /api/v1/profiling/jobs "${AUTH[@]}" -d '{"database":"demo","tables":["customers"]}'
expect 202 '"id":"'
poll_job
expect 200 '"status":"done"' '"tables_done":1,"tables_total":1' '"tables":["customers"]'
n2=$(ls "$tmp/dp/managed/demo/"*.yaml 2>/dev/null | wc -l)
[ "$n2" = "$n_yaml" ] && ok || bad "a one-table profile removed other tables' files ($n2 left of $n_yaml)"
LAST="profiling a table that does not exist"
req POST /api/v1/profiling/jobs "${AUTH[@]}" -d '{"database":"demo","tables":["nope"]}'
poll_job
expect 200 '"status":"failed"' '"code":"E-PROFILE-TABLE"' "'nope'"
LAST="unknown job id"
req GET /api/v1/profiling/jobs/p999999 "${AUTH[@]}"
expect_error 404 E-JOB-UNKNOWN '"id"'
LAST="profiling jobs without a token"
req POST /api/v1/profiling/jobs -d '{"database":"demo"}'
expect_error 401 E-API-AUTH '"Authorization"'
# Bad starts, one per line: status, code, field, body.
while IFS='|' read -r st code field body; do
    LAST="profiling job $body"
    req POST /api/v1/profiling/jobs "${AUTH[@]}" -d "$body"
    expect_error "$st" "$code" "$field"
done <<'CASES'
404|E-DB-UNKNOWN|"database"|{"database":"nope"}
422|E-API-MISSING-FIELD|"database"|{}
400|E-API-FIELD|"tables"|{"database":"demo","tables":"customers"}
400|E-API-FIELD|"tables"|{"database":"demo","tables":["customers",3]}
400|E-API-FIELD|"tables"|{"database":"demo","tables":[]}
400|E-API-FIELD|"tables"|{"database":"demo","tables":["customers","customers"]}
CASES
LAST="profiling body not JSON"
req POST /api/v1/profiling/jobs "${AUTH[@]}" -d '{"database":'
expect 400 '"code":"E-API-'

LAST="POST /mcp"; drive /mcp
req POST /mcp "${AUTH[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
expect 200 '"name":"ask"' '"inputSchema"'

LAST="GET /metrics"; drive /metrics
req GET /metrics
expect 200 'datachat_http_requests_total{method="POST",route="/api/v1/chat",status="200"}' \
    'datachat_http_requests_total{method="POST",route="/api/v1/chat",status="401"}' \
    'datachat_http_request_duration_seconds_bucket{le="+Inf"}' 'datachat_gate_refusals_total 1'

# The OpenAPI document and the routes this test drove are the same set.
described=$(printf %s "$openapi" | grep -oE '"/[A-Za-z0-9_./{}-]*":\{"(get|post|put|delete|patch)"' |
    sed -E 's/^"([^"]*)".*/\1/' | sort -u)
driven=$(printf '%s\n' "${DRIVEN[@]}" | sort -u)
if [ "$described" = "$driven" ]; then ok; else
    bad "OpenAPI paths and tested routes differ: $(diff <(echo "$described") <(echo "$driven") | tr '\n' ' ')"
fi
printf %s "$openapi" | grep -q '"requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","properties":{"message":{"type":"string"' &&
    ok || bad "OpenAPI: chat's request body schema is missing"

# Startup refusals.
"$DC" --config "$cfg" serve --dev --listen 0.0.0.0:0 >"$tmp/o" 2>"$tmp/e"
rc=$?
if [ $rc = 2 ] && grep -q E-SERVE-DEV-NONLOCAL "$tmp/e"; then ok; else
    bad "--dev on 0.0.0.0: exit $rc, $(cat "$tmp/e")"; fi
sed -e '/^server:/,$d' -e "s|$tmp/audit.jsonl|$tmp/audit-dev.jsonl|" "$cfg" \
    >"$tmp/notokens.yaml"
"$DC" --config "$tmp/notokens.yaml" serve --listen 127.0.0.1:0 >"$tmp/o" 2>"$tmp/e"
rc=$?
if [ $rc = 2 ] && grep -q E-SERVE-NO-TOKENS "$tmp/e"; then ok; else
    bad "no tokens: exit $rc, $(cat "$tmp/e")"; fi

# --dev on loopback: no token needed, the principal is the default.
first=$PORT
start_server "$tmp/notokens.yaml" --dev
LAST="--dev chat without a token"
req POST /api/v1/chat -d '{"message":"list tables"}'
expect 200 '"answer":"There are 8 tables'
kill -TERM "$SERVER_PID"
PORT=$first

# SIGTERM: stops accepting, exits 0.
kill -TERM "${SERVER_PIDS[0]}"
for _ in $(seq 1 50); do kill -0 "${SERVER_PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
wait "${SERVER_PIDS[0]}"
rc=$?
[ $rc = 0 ] && ok || bad "the server exited $rc after SIGTERM"

echo "server_api: $pass passed, $failed failed"
[ $failed = 0 ]
