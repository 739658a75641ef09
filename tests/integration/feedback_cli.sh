#!/usr/bin/env bash
# Feedback on answers: `datachat feedback ID --right | --wrong TEXT [--sql
# CORRECTED]` and POST /api/v1/feedback record verdicts against the answer
# ids answers carry; a correction must pass the gate; unknown ids and bad
# use are clear errors.
set -uo pipefail
. "$(dirname "$0")/session_lib.sh"
fb() { "$DC" --config "$CFG" feedback "$@" 2>"$tmp/err"; }
st() { sqlite3 "$tmp/var/state.db" "$1"; }

"$DC" --config "$CFG" query --json "how many orders in 2025" >"$tmp/a.json" 2>/dev/null
id=$(jf "$tmp/a.json" ".answer_id")
check "answers carry an id" '[[ "$id" =~ ^[0-9a-f]{32}$ ]]'
check "the answer is recorded with its SQL" '[ -n "$(st "SELECT sql FROM answers WHERE id = '\''$id'\''")" ]'

out=$(fb "$id" --wrong "cancelled orders should not count" \
      --sql "SELECT COUNT(*) FROM orders WHERE status <> 'cancelled' AND order_date LIKE '2025%'"); rc=$?
check "a wrong verdict with corrected SQL is recorded" '[ $rc -eq 0 ] && grep -q "feedback 1 recorded" <<<"$out"'
check "the store keeps question, SQL, verdict and correction" \
    '[ "$(st "SELECT question || '\''|'\'' || verdict || '\''|'\'' || (sql IS NOT NULL) || '\''|'\'' || corrected_sql FROM feedback WHERE id = 1")" = "how many orders in 2025|wrong|1|SELECT COUNT(*) FROM orders WHERE status <> '\''cancelled'\'' AND order_date LIKE '\''2025%'\''" ]'
out=$(fb "$id" --right --json); rc=$?
check "a right verdict is recorded (--json)" '[ $rc -eq 0 ] && grep -q "\"verdict\": *\"right\"" <<<"$out"'

fb 0123456789abcdef0123456789abcdef --right >/dev/null; rc=$?
check "an unknown answer id is exit 2 with its code" '[ $rc -eq 2 ] && grep -q "E-FEEDBACK-UNKNOWN-ANSWER" "$tmp/err"'
fb "$id" --wrong "x" --sql "DELETE FROM orders" >/dev/null; rc=$?
check "a correction the gate refuses is exit 3 and not stored" '[ $rc -eq 3 ] && grep -q "E-FEEDBACK-SQL" "$tmp/err" && [ "$(st "SELECT COUNT(*) FROM feedback")" = 2 ]'
fb "$id" --wrong "x" --sql "SELECT nope FROM nowhere" >/dev/null; rc=$?
check "a correction naming no real table is refused" '[ $rc -ne 0 ] && grep -q "E-FEEDBACK-SQL" "$tmp/err"'
fb "$id" --right --wrong "x" >/dev/null; rc=$?
check "--right with --wrong is a usage error" '[ $rc -eq 2 ]'
fb "$id" >/dev/null; rc=$?
check "no verdict is a usage error" '[ $rc -eq 2 ]'
fb "$id" --right --sql "SELECT 1" >/dev/null; rc=$?
check "--sql without --wrong is a usage error" '[ $rc -eq 2 ]'
fb --right >/dev/null; rc=$?
check "no id is a usage error" '[ $rc -eq 2 ]'
fb "$id" --wrong "" >/dev/null; rc=$?
check "an empty --wrong is refused with a hint" '[ $rc -eq 2 ] && grep -q "E-FEEDBACK-EMPTY" "$tmp/err"'

"$DC" --config "$CFG" query --json "list tables" >"$tmp/c.json" 2>/dev/null
cid=$(jf "$tmp/c.json" ".answer_id")
fb "$cid" --right >/dev/null; rc=$?
check "a catalog answer (no SQL) is not recorded for feedback" '[ $rc -eq 2 ] && grep -q "recorded when they ran SQL" "$tmp/err"'

# The API.
if command -v curl >/dev/null; then
    start_server "$CFG"
    code=$(post /api/v1/chat '{"message":"how many products"}')
    aid=$(jf "$tmp/r.json" ".answer_id")
    check "the API answer carries an id" '[ "$code" = 200 ] && [ -n "$aid" ]'
    code=$(post /api/v1/feedback "{\"answer_id\":\"$aid\",\"verdict\":\"wrong\",\"comment\":\"only active products\",\"sql\":\"SELECT COUNT(*) FROM products\"}")
    check "POST /api/v1/feedback records a verdict (201)" '[ "$code" = 201 ] && [ -n "$(jf "$tmp/r.json" ".feedback_id")" ]'
    code=$(post /api/v1/feedback '{"answer_id":"nope","verdict":"right"}')
    check "an unknown answer is 404 with its code" '[ "$code" = 404 ] && grep -q "E-FEEDBACK-UNKNOWN-ANSWER" "$tmp/r.json"'
    code=$(post /api/v1/feedback "{\"answer_id\":\"$aid\",\"verdict\":\"meh\"}")
    check "a bad verdict is 400 naming the field" '[ "$code" = 400 ] && grep -q "\"field\": *\"verdict\"" "$tmp/r.json"'
    code=$(post /api/v1/feedback "{\"verdict\":\"right\"}")
    check "a missing answer_id is the router's 422 naming the field" '[ "$code" = 422 ] && grep -q "answer_id" "$tmp/r.json"'
    code=$(post /api/v1/feedback "{\"answer_id\":\"$aid\",\"verdict\":\"wrong\",\"sql\":\"DROP TABLE products\"}")
    check "a correction the gate refuses is 403" '[ "$code" = 403 ] && grep -q "E-FEEDBACK-SQL" "$tmp/r.json"'
    stop_server
fi
check "corrected pairs are examples for the database" \
    '[ "$(st "SELECT COUNT(*) FROM feedback WHERE corrected_sql IS NOT NULL AND database = '\''demo'\''")" -ge 1 ]'
finish
