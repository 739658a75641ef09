#!/usr/bin/env bash
# Every model call is accounted for: each sqlgen attempt is its own trace
# step (number, SQL, the error fed back, tokens, latency) in
# `datachat query --json` and in POST /api/v1/chat's answer, and each call's
# token usage and latency is a row of the state store's llm_usage table.
# The API key appears nowhere: not in the store file, the trace, the audit
# log or stderr.
set -u
for t in jq sqlite3 curl; do
    command -v "$t" >/dev/null || { echo "SKIP: $t is not installed (scripts/setup)"; exit 77; }
done
. "$(dirname "$0")/llm_lib.sh"
llm_fake_setup "$1"

reply() { fake_reply "$@"; }
start_fake() {
    fake_start "$@"
    llm_write_config "http://127.0.0.1:$PORT/v1" DC_LLM_TRACE_KEY "" \
        "store: { url: \"sqlite:$T/var/state.db\" }"
}

export DC_LLM_TRACE_KEY=sk-trace-secret-90210
jqt() { # jqt NAME EXPR: the answer in $T/out satisfies the jq expression
    if jq -e "$2" "$T/out" >/dev/null 2>&1; then ok; else
        bad "$1: $2"
        jq -c '.trace' "$T/out" 2>/dev/null | head -c 2000
        echo
    fi
}
attempt_checks() { # the two sqlgen.attempt steps of an invalid-then-valid run
    local w=$1
    jqt "$w: two attempt steps" '[.trace[] | select(.stage == "sqlgen.attempt")] | length == 2'
    jqt "$w: attempt steps follow the sqlgen step" \
        '[.trace[].stage] | (index("sqlgen") + 1) == index("sqlgen.attempt")'
    jqt "$w: attempt 1 numbered, invalid" \
        '[.trace[] | select(.stage == "sqlgen.attempt")][0] | .outcome == "invalid" and .detail.attempt == 1 and .plugin == "sqlgen"'
    jqt "$w: attempt 1 carries its SQL" \
        '[.trace[] | select(.stage == "sqlgen.attempt")][0].detail.sql | contains("FROM shoppers")'
    jqt "$w: attempt 1 carries the error fed back" \
        '[.trace[] | select(.stage == "sqlgen.attempt")][0].detail | (.error | contains("no such table: shoppers")) and .error_fed_back == true'
    jqt "$w: attempt 1 tokens and latency" \
        '[.trace[] | select(.stage == "sqlgen.attempt")][0].detail | .prompt_tokens == 50 and .completion_tokens == 10 and (.latency_ms | type) == "number" and .model == "m1"'
    jqt "$w: attempt 2 valid with its own tokens" \
        '[.trace[] | select(.stage == "sqlgen.attempt")][1] | .outcome == "valid" and .detail.attempt == 2 and .detail.error == null and .detail.prompt_tokens == 70 and .detail.completion_tokens == 12 and (.detail.sql | contains("count(*) AS shoppers"))'
    jqt "$w: attempt steps are timed" '[.trace[] | select(.stage == "sqlgen.attempt") | .us >= 0] | all'
    jqt "$w: the answer ran" '.rows | length > 0'
}

# --- CLI: invalid then valid --------------------------------------------------
start_fake "$(reply "$BAD" 50 10)" "$(reply "$GOOD" 70 12)"
expect 0 "correction loop" "$DC" --config "$T/c.yaml" query --json "$Q"
attempt_checks cli
DB=$T/var/state.db
[ -f "$DB" ] && ok || bad "the state store was created"
rows() { sqlite3 "$DB" "$1" 2>/dev/null; }
[ "$(rows 'SELECT count(*) FROM llm_usage')" = 2 ] && ok || bad "one llm_usage row per model call: $(rows 'SELECT * FROM llm_usage')"
[ "$(rows "SELECT prompt_tokens || '+' || completion_tokens FROM llm_usage ORDER BY id" | tr '\n' ' ')" = "50+10 70+12 " ] &&
    ok || bad "the store holds each call's tokens: $(rows 'SELECT * FROM llm_usage')"
[ "$(rows "SELECT count(*) FROM llm_usage WHERE provider = 'openai' AND model = 'm1' AND outcome = 'ok' AND latency_us >= 0 AND created > 0")" = 2 ] &&
    ok || bad "the store holds provider, model, outcome and latency: $(rows 'SELECT * FROM llm_usage')"

# --- a failing call is recorded too ---------------------------------------------
start_fake '{"status":404,"json":{"error":{"message":"model not found"}}}'
expect 1 "unknown model" "$DC" --config "$T/c.yaml" query --json "$Q"
jqt "a failed call is an attempt step" \
    '[.trace[] | select(.stage == "sqlgen.attempt")] | length == 1 and .[0].outcome == "model-failed" and (.[0].detail.error | contains("E-LLM-NOT-FOUND"))'
[ "$(rows "SELECT provider || ' ' || model || ' ' || outcome || ' ' || (latency_us >= 0) FROM llm_usage ORDER BY id DESC LIMIT 1")" = "openai m1 E-LLM-NOT-FOUND 1" ] && ok ||
    bad "a failed call is a row with its error code: $(rows 'SELECT * FROM llm_usage')"

# --- the API's answer: the same steps --------------------------------------------
start_fake "$(reply "$BAD" 50 10)" "$(reply "$GOOD" 70 12)"
"$DC" --config "$T/c.yaml" serve --dev --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
APORT=
for _ in $(seq 1 300); do
    APORT=$(sed -n 's/^datachat: serving on port \([0-9]*\).*/\1/p' "$T/serve.out")
    [ -n "$APORT" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$APORT" ]; then
    bad "the server did not start: $(cat "$T/serve.err")"
else
    code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d "$(jq -n --arg q "$Q" '{message: $q}')" "http://127.0.0.1:$APORT/api/v1/chat")
    [ "$code" = 200 ] && ok || bad "POST /api/v1/chat: HTTP $code: $(head -c 400 "$T/out")"
    attempt_checks api
fi
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=
[ "$(rows 'SELECT count(*) FROM llm_usage')" = 5 ] && ok || bad "the server's calls are in the store too: $(rows 'SELECT count(*) FROM llm_usage')"

# --- the key reaches the server's header and nothing else ----------------------------
grep -q "Bearer $DC_LLM_TRACE_KEY" "$T/record.jsonl" && ok || bad "the key reaches the server"
for f in "$DB" "$T/var/state.db-wal" "$T/out" "$T/err" "$T/audit.jsonl" "$T/serve.out" "$T/serve.err"; do
    [ -e "$f" ] || continue
    if grep -aqF -- "$DC_LLM_TRACE_KEY" "$f"; then bad "the key is in $(basename "$f")"; else ok; fi
done
if sqlite3 "$DB" .dump | grep -qF -- "$DC_LLM_TRACE_KEY"; then bad "the key is in the store's rows"; else ok; fi

llm_lib_summary llm_trace
