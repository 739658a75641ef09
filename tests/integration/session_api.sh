#!/usr/bin/env bash
# Sessions through POST /api/v1/chat session_id: a follow-up builds on the
# earlier turn, and still does after the server is restarted (a second
# process reading the same state store).
set -uo pipefail
. "$(dirname "$0")/session_lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/setup)"; exit 77; }
chat() { post /api/v1/chat "$1"; }

start_server "$CFG" --today 2027-03-01
code=$(chat '{"message":"how many orders in 2025","session_id":"web-1"}')
check "turn 1 answers" '[ "$code" = 200 ] && [ "$(jf "$tmp/r.json" ".session.turn")" = 1 ]'
code=$(chat '{"message":"and by month?","session_id":"web-1"}')
check "the follow-up builds on turn 1" '[ "$code" = 200 ] && [ "$(jf "$tmp/r.json" ".session.built_on_turn")" = 1 ] && [ "$(jf "$tmp/r.json" ".row_count")" = 12 ]'
check "session_id is echoed" '[ "$(jf "$tmp/r.json" ".session_id")" = web-1 ]'
code=$(chat '{"message":"how many orders","session_id":"bad id"}')
check "a bad session_id is 400 naming the field" '[ "$code" = 400 ] && grep -q "E-SESSION-ID" "$tmp/r.json"'
stop_server

start_server "$CFG" --today 2027-03-01
code=$(chat '{"message":"only cancelled","session_id":"web-1"}')
check "after a restart the session goes on (turn 3 builds on turn 2)" \
    '[ "$code" = 200 ] && [ "$(jf "$tmp/r.json" ".session.built_on_turn")" = 2 ] && [ "$(jf "$tmp/r.json" ".session.turn")" = 3 ]'
check "and keeps the grouping while adding the filter" "grep -q \"per month\" \"\$tmp/r.json\" && grep -q \"status is 'cancelled'\" \"\$tmp/r.json\""
code=$(chat '{"message":"and by month?"}')
check "without a session_id nothing is merged" '[ "$code" = 200 ] && ! grep -q "built_on_turn" "$tmp/r.json"'
stop_server
finish
