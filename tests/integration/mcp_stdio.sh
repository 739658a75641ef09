#!/usr/bin/env bash
# `datachat mcp` over stdio: JSON-RPC 2.0 lines in, one reply line per
# request out (none for notifications), checked with jq: initialize and
# version negotiation, tools/list with the `ask` tool, ask answering through
# the pipeline (and refusing a destructive request), protocol errors
# (malformed JSON, wrong jsonrpc, unknown method, unknown tool, bad params,
# a line over the size limit), batches, and policy applying to `ask`.
set -u
B=${DC_BINARY_DIR:?DC_BINARY_DIR must point at the build directory}
DC=$B/datachat
GEN=$B/datachat-demo-gen
for f in "$DC" "$GEN" "$B/plugins/stage-intent.so" "$B/plugins/connector-sqlite.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GEN" --out "$tmp/demo.db" --seed 42 --scale 0.05 >"$tmp/gen.log" 2>&1 ||
    { echo "FAIL: datachat-demo-gen"; cat "$tmp/gen.log"; exit 1; }
cd "$tmp" || exit 1

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# run FILE: feeds FILE to `datachat mcp`, replies in $tmp/out (one per line).
run() {
    "$DC" --audit "$tmp/audit.jsonl" mcp --db "$tmp/demo.db" <"$1" >"$tmp/out" 2>"$tmp/err"
    RC=$?
}
# check DESCRIPTION JQ_FILTER: the filter must print true over the replies
# (slurped into an array).
check() {
    if [ "$(jq -s "$2" "$tmp/out" 2>&1)" = "true" ]; then ok; else
        bad "$1: $(jq -s "$2" "$tmp/out" 2>&1 | head -3); replies: $(head -c 600 "$tmp/out")"
    fi
}

cat >"$tmp/in1" <<'JSON'
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}

{"jsonrpc":"2.0","id":"two","method":"tools/list"}
{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask","arguments":{"question":"how many customers are there"}}}
{"jsonrpc":"2.0","id":4,"method":"ping"}
JSON
run "$tmp/in1"
[ "$RC" = 0 ] && ok || bad "exit $RC at end of input: $(cat "$tmp/err")"
check "four replies, none for the notification or the blank line" 'length == 4'
check "initialize echoes a supported version" \
    '.[0].id == 1 and .[0].result.protocolVersion == "2025-06-18" and .[0].result.serverInfo.name == "datachat" and (.[0].result.capabilities.tools | type) == "object"'
check "tools/list has ask with an object input schema" \
    '.[1].id == "two" and ([.[1].result.tools[] | select(.name == "ask")][0].inputSchema | .type == "object" and .required == ["question"])'
check "ask answers with the count and the SQL" \
    '.[2].id == 3 and .[2].result.isError == false and (.[2].result.content[0].text | test("SQL: SELECT"; "i")) and (.[2].result.structuredContent.rows | length) == 1'
n=$(sqlite3 "$tmp/demo.db" 'select count(*) from customers' 2>/dev/null || true)
if [ -n "$n" ]; then
    check "ask's number is the real count" ".[2].result.structuredContent.rows[0][0] == $n"
fi
check "ping gets an empty result" '.[3].id == 4 and .[3].result == {}'

cat >"$tmp/in2" <<'JSON'
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}
not json at all
{"jsonrpc":"1.0","id":2,"method":"ping"}
{"jsonrpc":"2.0","id":3,"method":"resources/list"}
{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}
{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask","arguments":{"question":42}}}
{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"ask","arguments":{"question":"x","sql":"drop"}}}
{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask","arguments":"nope"}}
{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ask","arguments":{"question":"delete all the orders"}}}
{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}
[]
[{"jsonrpc":"2.0","id":9,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":10,"method":"ping"}]
{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"ask","arguments":{"question":"list tables","database":"nope"}}}
JSON
run "$tmp/in2"
[ "$RC" = 0 ] && ok || bad "exit $RC: $(cat "$tmp/err")"
check "an unknown version gets the newest supported" \
    '.[0].result.protocolVersion | test("^20[0-9]{2}-[0-9]{2}-[0-9]{2}$") and . != "1999-01-01"'
check "malformed JSON: parse error with null id" '.[1].error.code == -32700 and .[1].id == null'
check "jsonrpc 1.0: invalid request" '.[2].error.code == -32600 and .[2].id == 2'
check "unknown method" '.[3].error.code == -32601 and .[3].id == 3'
check "unknown tool is a protocol error" '.[4].error.code == -32602'
check "ask with a number" '.[5].error.code == -32602 and (.[5].error.message | test("question"))'
check "ask with an extra argument" '.[6].error.code == -32602'
check "arguments not an object" '.[7].error.code == -32602'
check "a destructive question is refused as a tool error" \
    '.[8].result.isError == true and (.[8].result.content[0].text | test("^E-"))'
check "an object id is refused" '.[9].error.code == -32600 and .[9].id == null'
check "an empty batch" '.[10].error.code == -32600'
check "a batch gets an array of the two request replies" \
    '(.[11] | type) == "array" and (.[11] | length) == 2 and .[11][0].id == 9 and .[11][1].id == 10'
check "an unknown database is a tool error naming it" \
    '.[12].result.isError == true and (.[12].result.content[0].text | test("E-DB-UNKNOWN"))'
if jq -e 'select(.event == "refusal" and .question == "delete all the orders")' \
    "$tmp/audit.jsonl" >/dev/null 2>&1; then
    ok; else bad "the refused ask left no audit record"; fi

# A line over 4 MiB gets a parse error and the server goes on.
{
    head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'a'
    echo
    echo '{"jsonrpc":"2.0","id":1,"method":"ping"}'
} >"$tmp/in3"
run "$tmp/in3"
check "oversized line, then a normal request" \
    'length == 2 and .[0].error.code == -32700 and (.[0].error.message | test("limit")) and .[1].id == 1'

# stdout carries only JSON-RPC: every line parses.
if jq -e . "$tmp/out" >/dev/null 2>&1; then ok; else bad "stdout holds something that is not JSON"; fi

echo "mcp_stdio: $pass passed, $failed failed"
[ "$failed" = 0 ]
