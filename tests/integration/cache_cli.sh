#!/usr/bin/env bash
# The caches: a repeated question is served from the result cache (and
# audited), never to a principal whose policy differs; a TTL of 0 turns a
# cache off; the SQL cache is consulted for session turns; hit and miss
# counts reach /metrics.
set -uo pipefail
. "$(dirname "$0")/session_lib.sh"
mkdir -p "$tmp/policies"
cat >"$tmp/policies/p.yaml" <<'YAML'
principals:
  local:
    databases:
      demo:
        default_table: { allowed: true }
  twin:
    databases:
      demo:
        default_table: { allowed: true }
  analyst:
    databases:
      demo:
        tables:
          customers: { row_filter: "region_id = 1" }
        default_table: { allowed: false }
YAML
write_config "$CFG" "policies: $tmp/policies/*.yaml
default_principal: local"
q() { "$DC" --config "$CFG" query "$@" 2>"$tmp/err"; }

q --json "how many customers" >"$tmp/a1.json"; rc=$?
check "first ask answers" '[ $rc -eq 0 ]'
check "first ask misses the result cache" 'grep -q "result cache: miss" "$tmp/a1.json" && ! grep -q "result cache: hit" "$tmp/a1.json"'
q --json "how many customers" >"$tmp/a2.json"; rc=$?
check "second ask is served from the result cache" '[ $rc -eq 0 ] && grep -q "result cache: hit" "$tmp/a2.json"'
check "with the same rows" '[ "$(jf "$tmp/a1.json" ".rows")" = "$(jf "$tmp/a2.json" ".rows")" ]'
check "a served result is audited as such" 'grep -q "served from the result cache" "$tmp/audit.jsonl"'
all=$(jf "$tmp/a1.json" ".rows[0][0]")

q --json --as analyst "how many customers" >"$tmp/b1.json"; rc=$?
r1=$(sqlite3 "$tmp/demo.db" "SELECT COUNT(*) FROM customers WHERE region_id = 1")
check "a principal with a different policy is not served the cached result" \
    '[ $rc -eq 0 ] && ! grep -q "result cache: hit" "$tmp/b1.json"'
check "it gets its own rows ($r1 of $all)" '[ "$(jf "$tmp/b1.json" ".rows[0][0]")" = "$r1" ] && [ "$r1" != "$all" ]'
q --json --as analyst "how many customers" >"$tmp/b2.json"
check "its own repeat hits its own entry" 'grep -q "result cache: hit" "$tmp/b2.json" && [ "$(jf "$tmp/b2.json" ".rows[0][0]")" = "$r1" ]'
q --json --as twin "how many customers" >"$tmp/t1.json"
check "a principal with the same rules shares the entry" 'grep -q "result cache: hit" "$tmp/t1.json" && [ "$(jf "$tmp/t1.json" ".rows[0][0]")" = "$all" ]'

# `datachat sql` always runs its statement.
"$DC" --config "$CFG" -v sql "SELECT COUNT(*) FROM customers" >/dev/null 2>"$tmp/err"
check "datachat sql never reads the result cache" '! grep -q "result cache" "$tmp/err"'

# TTL 0: off.
write_config "$tmp/off.yaml" "" "result_cache_ttl_s: 0, sql_cache_ttl_s: 0"
"$DC" --config "$tmp/off.yaml" query --json "how many customers" >"$tmp/o1.json" 2>/dev/null
"$DC" --config "$tmp/off.yaml" query --json "how many customers" >"$tmp/o2.json" 2>/dev/null
check "result_cache_ttl_s: 0 turns the result cache off" '! grep -q "result cache" "$tmp/o2.json"'

# The SQL cache, keyed by the question, schema, DataPoints and policy.
q --json --session k "how many products" >"$tmp/s1.json"
q --json --session k "How many   products?" >"$tmp/s2.json"
check "a session turn misses the SQL cache the first time" 'grep -q "sql cache: miss" "$tmp/s1.json"'
check "the same question, spelled differently, hits it" 'grep -q "sql cache: hit" "$tmp/s2.json"'
q --json --session k2 --as analyst "how many products" >"$tmp/s3.json"
check "another policy misses it" 'grep -q "sql cache: miss" "$tmp/s3.json"'

# /metrics counts hits and misses.
if command -v curl >/dev/null; then
    start_server "$CFG"
    for _ in 1 2; do
        curl -s -X POST -H 'Content-Type: application/json' -d '{"message":"how many orders"}' \
            "http://127.0.0.1:$port/api/v1/chat" >/dev/null
    done
    m=$(curl -s "http://127.0.0.1:$port/metrics")
    stop_server
    check "/metrics has result cache hits" 'grep -Eq "^datachat_cache_lookups_total\{cache=\"result\",outcome=\"hit\"\} [1-9]" <<<"$m"'
    check "/metrics has the SQL cache series" 'grep -q "^datachat_cache_lookups_total{cache=\"sql\",outcome=\"miss\"}" <<<"$m"'
    if command -v promtool >/dev/null; then
        check "promtool accepts the metrics" 'promtool check metrics <<<"$m" >/dev/null 2>&1'
    fi
fi
finish
