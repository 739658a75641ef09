#!/usr/bin/env bash
# `datachat chat` driven through a pipe: one question per line, follow-ups
# build on earlier lines, /sql and /history read the session store, /quit
# ends it, and a second process continues the same session.
set -uo pipefail
. "$(dirname "$0")/session_lib.sh"
chat() { "$DC" --config "$CFG" --today 2027-03-01 chat "$@" 2>"$tmp/err"; }

out=$(printf '%s\n' "how many orders in 2025" "" "and by month?" "/sql" "/history" "/nope" \
      "/quit" "how many customers" | chat --session c1); rc=$?
check "chat exits 0 at /quit" '[ $rc -eq 0 ]'
check "no prompt on a pipe" '! grep -q "datachat>" <<<"$out"'
check "the first question is answered" 'grep -q "Number of orders, where order_date is from 2025-01-01" <<<"$out"'
check "the follow-up builds on it" 'grep -q "Number of orders per month of order_date, where order_date is from 2025-01-01" <<<"$out"'
check "/sql shows the last SQL" 'grep -q "GROUP BY" <<<"$out"'
check "/history lists both turns, the follow-up with what it became" \
    'grep -q "^1\. how many orders in 2025 \[answered\]" <<<"$out" && grep -q "^2\. and by month? -> how many orders in 2025 by month \[answered\]" <<<"$out"'
check "an unknown command is named and the chat goes on" 'grep -q "unknown command ./nope." "$tmp/err"'
check "nothing after /quit runs" '! grep -q "Number of customers" <<<"$out"'

# A second process continues the session: history and follow-ups survive.
out=$(printf '%s\n' "/history" "only cancelled" | chat --session c1); rc=$?
check "a restarted chat sees the history" '[ $rc -eq 0 ] && grep -q "^2\. and by month?" <<<"$out"'
check "and builds on the last turn" "grep -q \"status is 'cancelled'\" <<<\"\$out\" && grep -q 'per month' <<<\"\$out\""
check "end of input ends the chat" '[ "$(sqlite3 "$tmp/var/state.db" "SELECT COUNT(*) FROM turns WHERE session = '\''c1'\''")" = 3 ]'

# Without --session a fresh one is made up.
out=$(printf 'list tables\n' | chat); rc=$?
check "chat without --session works" '[ $rc -eq 0 ] && grep -q "tables in demo" <<<"$out"'

# Bad use and a broken store.
chat "how many orders" </dev/null >/dev/null; rc=$?
check "a question on the command line is a usage error" '[ $rc -eq 2 ]'
chat --session "bad id" </dev/null >/dev/null; rc=$?
check "a bad session id is a usage error" '[ $rc -eq 2 ] && grep -q "E-SESSION-ID" "$tmp/err"'
mkdir -p "$tmp/bad/var"
printf 'this is not a database, just text that is long enough to be read as a header....' >"$tmp/bad/var/state.db"
sed "s#$tmp/var/state.db#$tmp/bad/var/state.db#" "$CFG" >"$tmp/bad.yaml"
printf 'how many orders\n' | "$DC" --config "$tmp/bad.yaml" chat >/dev/null 2>"$tmp/err"; rc=$?
check "a broken store stops the chat before the first question (exit 1)" \
    '[ $rc -eq 1 ] && grep -q "E-STORE-CORRUPT" "$tmp/err"'
finish
