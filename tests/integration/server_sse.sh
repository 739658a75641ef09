#!/usr/bin/env bash
# POST /api/v1/chat with "stream": true sends each trace step as its stage
# finishes, not all of them after the pipeline: a model that takes 1.5 s
# (the fake LLM server's delay_ms) separates the steps before the model
# call from the answer after it, and curl -N sees them arrive that far
# apart, in order, each event whole.
set -u
. "$(dirname "$0")/server_lib.sh"
FAKE=$B/tests/fake_llm
[ -x "$FAKE" ] || { echo "SKIP: $FAKE is not built"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }
T=$tmp
. "$(dirname "$0")/llm_lib.sh"

GOOD='```sql
SELECT country, count(*) AS shoppers FROM customers GROUP BY country ORDER BY shoppers DESC
```'
SLOW=$(fake_reply "$GOOD")
SLOW="{\"delay_ms\":1500,${SLOW#\{}"
fake_start "$SLOW" "$SLOW"
SERVER_PIDS+=("$FPID")
cat >"$T/c.yaml" <<YAML
version: 1
databases:
  demo: { connector: sqlite, path: demo.db }
llm:
  default: { provider: openai, base_url: "http://127.0.0.1:$PORT/v1", model: m1, api_key_env: DC_SSE_KEY, retries: 0, timeout_ms: 20000 }
pipeline:
  entry: intent
  max_steps: 16
  stages:
    intent: { use: intent, on: { catalog: catalog, sql: metric, metric: metric, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    metric: { use: metric, on: { ok: reply, clarify: reply, no_match: compiler } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: audit.jsonl }
store: { url: "sqlite:$T/var/state.db" }
YAML
export DC_SSE_KEY=sk-sse-test
start_server "$T/c.yaml" --dev
APORT=$PORT

Q="which nations have the most shoppers, ranked by headcount"
# Each line as it arrives, prefixed with the arrival time in ms.
curl -sN -X POST -H 'Content-Type: application/json' \
    -d "$(jq -n --arg q "$Q" '{message: $q, stream: true}')" \
    "http://127.0.0.1:$APORT/api/v1/chat" |
    while IFS= read -r line; do printf '%s %s\n' "$(($(date +%s%N) / 1000000))" "$line"; done \
        >"$T/events"

ev() { grep -m1 -n "^[0-9]* event: $1" "$T/events"; }
t_of() { sed -n "${1}p" "$T/events" | cut -d' ' -f1; }
first_trace=$(ev trace | cut -d: -f1)
answer=$(ev answer | cut -d: -f1)
if [ -z "$first_trace" ] || [ -z "$answer" ]; then
    bad "no trace or answer event: $(head -c 1500 "$T/events")"
else
    ok
    [ "$first_trace" -lt "$answer" ] && ok || bad "the answer came before the first trace step"
    gap=$(($(t_of "$answer") - $(t_of "$first_trace")))
    # Sent at the end, every event would arrive within a few ms.
    [ "$gap" -ge 1000 ] && ok || bad "the first trace step arrived only ${gap} ms before the answer (not live)"
    grep -q '^[0-9]* data: {"stage":"intent"' "$T/events" && ok || bad "no intent step"
    # Steps after the model call arrive after it, together with the answer.
    last_trace=$(grep -n "^[0-9]* event: trace" "$T/events" | tail -1 | cut -d: -f1)
    [ "$last_trace" -lt "$answer" ] && ok || bad "a trace event followed the answer"
    n_answer=$(grep -c "^[0-9]* event: answer" "$T/events")
    [ "$n_answer" = 1 ] && ok || bad "$n_answer answer events"
fi
# Every event is whole: "event:" then "data:" holding one JSON value, then a blank line.
awk '{ $1 = ""; sub(/^ /, ""); print }' "$T/events" >"$T/plain"
bad_ev=$(awk 'BEGIN { s = 0; b = 0 }
    s == 0 && /^event: / { s = 1; next }
    s == 1 && /^data: / { s = 2; next }
    s == 2 && /^$/ { s = 0; next }
    { b++ } END { print b + (s != 0) }' "$T/plain")
[ "$bad_ev" = 0 ] && ok || bad "malformed SSE framing: $(head -c 600 "$T/plain")"
grep '^data: ' "$T/plain" | sed 's/^data: //' | jq -e . >/dev/null 2>&1 && ok || bad "an event's data is not JSON"

# The same question without streaming still answers in one JSON body.
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "$(jq -n --arg q "$Q" '{message: $q}')" "http://127.0.0.1:$APORT/api/v1/chat")
[ "$code" = 200 ] && jq -e '.trace | length > 0' "$T/out" >/dev/null && ok ||
    bad "non-streamed chat: HTTP $code $(head -c 300 "$T/out")"

# A client that goes away mid-stream leaves the server healthy.
curl -sN -m 0.5 -X POST -H 'Content-Type: application/json' \
    -d "$(jq -n --arg q "$Q" '{message: $q, stream: true}')" \
    "http://127.0.0.1:$APORT/api/v1/chat" >/dev/null 2>&1
sleep 2
curl -s "http://127.0.0.1:$APORT/health" | grep -q '"ok"' && ok || bad "unhealthy after a client left mid-stream"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
[ "$rc" = 0 ] && ok || bad "exit $rc after SIGTERM: $(tail -5 "$SERVER_ERR")"
llm_lib_summary server_sse
