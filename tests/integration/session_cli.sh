#!/usr/bin/env bash
# Sessions through `datachat query --session`: each turn is its own
# process (so a restart loses nothing), follow-ups with no subject merge
# into the last turn's structure and compile again, the clarification
# budget ends in a refusal, bad ids and a broken store are clear errors,
# and a plain catalog question never opens the store.
set -uo pipefail
. "$(dirname "$0")/session_lib.sh"
q() { "$DC" --config "$CFG" --today 2027-03-01 query "$@" 2>"$tmp/err"; }

# --- a catalog question does not create (or open) the store
out=$(q "describe orders"); rc=$?
check "describe orders answers" '[ $rc -eq 0 ] && grep -q "orders has" <<<"$out"'
check "a catalog question leaves no state store behind" '[ ! -e "$tmp/var/state.db" ]'

# --- turn 1, then follow-ups, each in a new process
q --json --session s1 "how many orders in 2025" >"$tmp/t1.json"; rc=$?
check "turn 1 answers" '[ $rc -eq 0 ] && [ "$(jf "$tmp/t1.json" ".session.turn")" = 1 ]'
n2025=$(sqlite3 "$tmp/demo.db" "SELECT COUNT(*) FROM orders WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01'")
check "turn 1 counts orders of 2025 ($n2025)" '[ "$(jf "$tmp/t1.json" ".rows[0][0]")" = "$n2025" ]'

q --json --session s1 "and by month?" >"$tmp/t2.json"; rc=$?
check "follow-up 'and by month?' answers" '[ $rc -eq 0 ]'
check "it built on turn 1" '[ "$(jf "$tmp/t2.json" ".session.built_on_turn")" = 1 ]'
check "it keeps what was asked" '[ "$(jf "$tmp/t2.json" ".session.asked")" = "and by month?" ]'
check "it groups 2025 by month (12 rows)" '[ "$(jf "$tmp/t2.json" ".row_count")" = 12 ] && grep -q "per month" <<<"$(jf "$tmp/t2.json" ".answer")"'
check "the trace says which turn it built on" 'grep -q "built on turn 1" "$tmp/t2.json"'
sum=$(jf "$tmp/t2.json" "[.rows[][1]] | add")
check "the monthly counts add up to turn 1 ($sum)" '[ "$sum" = "$n2025" ]'

q --json --session s1 "what about last year?" >"$tmp/t3.json"; rc=$?
check "'what about last year?' answers" '[ $rc -eq 0 ]'
check "it replaced the time range (2026, --today 2027-03-01) and kept the grouping" \
    'grep -q "2026-01-01" <<<"$(jf "$tmp/t3.json" ".answer")" && grep -q "per month" <<<"$(jf "$tmp/t3.json" ".answer")"'

q --json --session s1 "only cancelled" >"$tmp/t4.json"; rc=$?
ncanc=$(sqlite3 "$tmp/demo.db" "SELECT COUNT(*) FROM orders WHERE status = 'cancelled' AND order_date >= '2026-01-01' AND order_date < '2027-01-01'")
check "'only cancelled' adds a filter" '[ $rc -eq 0 ] && grep -q "status is .cancelled." <<<"$(jf "$tmp/t4.json" ".answer")"'
sum=$(jf "$tmp/t4.json" "[.rows[][1]] | add")
check "the filtered monthly counts match sqlite3 ($ncanc)" '[ "$sum" = "$ncanc" ]'
check "four turns are stored" '[ "$(sqlite3 "$tmp/var/state.db" "SELECT COUNT(*) FROM turns WHERE session = '\''s1'\''")" = 4 ]'
check "the store records the resolved question" \
    '[ "$(sqlite3 "$tmp/var/state.db" "SELECT resolved FROM turns WHERE session = '\''s1'\'' AND turn = 2")" = "how many orders in 2025 by month" ]'
check "the structure has the parts and the SQL ran" \
    'sqlite3 "$tmp/var/state.db" "SELECT structure FROM turns WHERE session = '\''s1'\'' AND turn = 4" | grep -q "\"group_by\":\"by month\"" && [ -n "$(sqlite3 "$tmp/var/state.db" "SELECT sql FROM turns WHERE session = '\''s1'\'' AND turn = 4")" ]'

# --- a follow-up in another session has nothing to build on
q --json --session other "and by month?" >"$tmp/o.json"; rc=$?
check "a follow-up in a fresh session is not merged: it asks which data is meant" \
    '[ -z "$(jf "$tmp/o.json" ".session.built_on_turn")" ] && grep -q "Which data do you mean" "$tmp/o.json"'
# --- a question with its own subject is not a follow-up
q --json --session s1 "how many customers" >"$tmp/t5.json"; rc=$?
check "a new subject starts over" '[ $rc -eq 0 ] && [ -z "$(jf "$tmp/t5.json" ".session.built_on_turn")" ] && grep -q "customers" <<<"$(jf "$tmp/t5.json" ".answer")"'

# --- the clarification budget (2 here): the third request to clarify is refused
write_config "$tmp/c2.yaml" "" "session_max_clarify: 2"
for i in 1 2; do
    "$DC" --config "$tmp/c2.yaml" query --session cl "tell me something interesting" >/dev/null 2>&1
    echo $? >>"$tmp/cl.rc"
done
out=$("$DC" --config "$tmp/c2.yaml" query --session cl "tell me something interesting" 2>"$tmp/err"); rc=$?
check "asking to clarify twice is allowed" '! grep -q "^3$" "$tmp/cl.rc"'
check "the third clarification is refused (exit 3)" '[ $rc -eq 3 ] && grep -q "E-SESSION-CLARIFY-LIMIT" "$tmp/err"'
check "the refusal says why and what to do" 'grep -q "will not ask again" <<<"$out" && grep -q "session_max_clarify" <<<"$out"'
check "the refusal is audited" 'grep -q "E-SESSION-CLARIFY-LIMIT" "$tmp/audit.jsonl"'
check "other sessions keep their budget" \
    '"$DC" --config "$tmp/c2.yaml" query --session cl2 "tell me something interesting" >/dev/null 2>&1; [ $? -ne 3 ]'

# --- bad input
q --session "a b" "how many orders" >/dev/null; rc=$?
check "a bad session id is a usage error" '[ $rc -eq 2 ] && grep -q "E-SESSION-ID" "$tmp/err"'
write_config "$tmp/c3.yaml" "" "session_max_clarify: -1"
"$DC" --config "$tmp/c3.yaml" query "list tables" >/dev/null 2>"$tmp/err"; rc=$?
check "a negative clarification budget is a config error" '[ $rc -eq 2 ] && grep -q "store.session_max_clarify" "$tmp/err"'

# --- a broken store: clear error, no crash; questions without a session still work
mkdir -p "$tmp/bad/var"
head -c 8192 /dev/urandom >"$tmp/bad/var/state.db"
sed "s#$tmp/var/state.db#$tmp/bad/var/state.db#" "$CFG" >"$tmp/bad.yaml"
"$DC" --config "$tmp/bad.yaml" query --session s1 "how many orders" >/dev/null 2>"$tmp/err"; rc=$?
check "a malformed store file fails the session turn with exit 1" '[ $rc -eq 1 ]'
check "the error names the code and the file" 'grep -q "E-STORE-CORRUPT" "$tmp/err" && grep -q "$tmp/bad/var/state.db" "$tmp/err"'
"$DC" --config "$tmp/bad.yaml" query "how many orders" >/dev/null 2>"$tmp/err"; rc=$?
check "a question without a session still answers (the caches are skipped)" '[ $rc -eq 0 ]'
finish
