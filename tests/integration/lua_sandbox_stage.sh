#!/usr/bin/env bash
# Lua pipeline stages marked `sandbox: true` run in datachat-worker (issue 8):
# through `datachat query` a sandboxed stage routes, its dc.emit values and
# dc.trace notes reach the request; a script that reaches for os.execute, or
# loops past the deadline, fails the request cleanly (exit 1, a stable code)
# and leaves an audit record; `config check` reads a sandboxed script's
# declarations in the worker, so a hostile top level fails the check there.
set -u
B=${DC_BINARY_DIR:?DC_BINARY_DIR must point at the build directory}
S=${DC_SOURCE_DIR:?DC_SOURCE_DIR must point at the source directory}
DC=$B/datachat
for f in "$DC" "$B/datachat-worker" "$B/datachat-demo-gen" "$B/plugins/stage-answer.so" \
         "$B/plugins/connector-sqlite.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$B/datachat-demo-gen" --out "$tmp/demo.db" --seed 7 --scale 0.02 >/dev/null 2>&1 ||
    { echo "FAIL: datachat-demo-gen"; exit 1; }
mkdir -p "$tmp/lua/lib"
cp "$S/lua/lib/dc_util.lua" "$tmp/lua/lib/"

cat >"$tmp/route.lua" <<'LUA'
outcomes = { "match", "other", "done" }
options = { keyword = { type = "string", required = true } }
function run(ctx)
  local q = ctx.question or ""
  if string.find(q, config.keyword, 1, true) then
    dc.trace("sandboxed: the question mentions " .. config.keyword)
    dc.emit("answer", "routed by the sandboxed stage for " .. (ctx.principal or "?"))
    return "match"
  end
  return "other"
end
LUA
cat >"$tmp/exec.lua" <<'LUA'
outcomes = { "match", "other", "done" }
function run(ctx)
  os.execute("touch " .. ctx.question)
  return "done"
end
LUA
cat >"$tmp/spin.lua" <<'LUA'
outcomes = { "match", "other", "done" }
function run(ctx)
  while true do end
end
LUA
cat >"$tmp/top_exec.lua" <<LUA
os.execute("touch $tmp/top-level-ran")
outcomes = { "match", "other", "done" }
function run(ctx) return "done" end
function invoke(args) return {} end
LUA
cat >"$tmp/top_spin.lua" <<'LUA'
while true do end
LUA

# config FILE STAGE-USE [EXTRA STAGE YAML] [TOOLS YAML]
config() {
    cat >"$1" <<YAML
version: 1
plugins: { dirs: [$B/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
limits: { timeout_ms: ${TMO:-5000} }
pipeline:
  entry: first
  stages:
    first:
      use: "$2"
      sandbox: true
${3:-}
      on: { match: reply, other: reply, done: reply }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
${4:-}
YAML
}

# 1. A sandboxed stage routes; emit and trace reach the request.
config "$tmp/ok.yaml" "lua:route.lua" "      with: { keyword: salary }"
o=$("$DC" --config "$tmp/ok.yaml" config check 2>&1) && ok || bad "config check: $o"
o=$("$DC" --config "$tmp/ok.yaml" --as dana --json query "what is the salary of Ann" 2>&1)
if printf %s "$o" | jq -e '.answer == "routed by the sandboxed stage for dana" and
      ([.trace[] | select(.stage == "first")][0] | .outcome == "match" and
       (.reason | contains("sandboxed: the question mentions salary")))' >/dev/null
then ok; else bad "sandboxed stage route/emit/trace: $o"; fi

# 2. The declared options are checked from the worker's answer.
config "$tmp/noopt.yaml" "lua:route.lua" ""
o=$("$DC" --config "$tmp/noopt.yaml" config check 2>&1)
c=$?
if [ $c -eq 2 ] && printf %s "$o" | grep -q "keyword"; then ok
else bad "missing required option: exit $c: $o"; fi

# 3. os.execute from a sandboxed stage: a clean failure, audited.
config "$tmp/exec.yaml" "lua:exec.lua" ""
o=$("$DC" --config "$tmp/exec.yaml" query "$tmp/pwned" 2>&1)
c=$?
if [ $c -eq 1 ] && printf %s "$o" | grep -q "E-LUA-RUNTIME" && [ ! -e "$tmp/pwned" ]; then ok
else bad "os.execute: exit $c: $o"; fi
r=$(jq -c 'select(.question == "sandboxed stage: first (lua:exec.lua)")' "$tmp/audit.jsonl")
if printf %s "$r" | jq -e '.outcome == "error" and .code == "E-LUA-RUNTIME" and
      .principal != null' >/dev/null; then ok; else bad "audit of the os.execute attempt: $r"; fi

# 4. A stage that spins past the core's deadline (300 ms, before the
#    script's own 1 s limit) has its worker killed; the request fails with
#    a code and is audited.
TMO=300 config "$tmp/spin.yaml" "lua:spin.lua" ""
start=$(date +%s)
o=$("$DC" --config "$tmp/spin.yaml" query "anything" 2>&1)
c=$?
took=$(( $(date +%s) - start ))
if [ $c -eq 1 ] && printf %s "$o" | grep -q "E-SANDBOX-TIMEOUT" && [ "$took" -lt 10 ]
then ok; else bad "spinning stage: exit $c after ${took}s: $o"; fi
n=$(jq -c 'select(.question == "sandboxed stage: first (lua:spin.lua)")' "$tmp/audit.jsonl" | wc -l)
[ "$n" -eq 1 ] && ok || bad "audit of the spinning stage: $n records"
"$DC" audit verify "$tmp/audit.jsonl" >/dev/null 2>&1 && ok || bad "audit chain"

# 5. config check of sandboxed scripts with hostile top levels: they run in
#    the worker (never here) and fail the check with the script's error.
for s in top_exec top_spin; do
    config "$tmp/$s.yaml" "lua:$s.lua" ""
    o=$("$DC" --config "$tmp/$s.yaml" config check 2>&1)
    c=$?
    if [ $c -eq 2 ] && printf %s "$o" | grep -q "E-CFG-LUA-SCRIPT" &&
       printf %s "$o" | grep -q "in the worker" && printf %s "$o" | grep -q "$s.yaml:[0-9]*:[0-9]*"
    then ok; else bad "config check of $s stage: exit $c: $o"; fi
done
# ... and a sandboxed Lua tool (the default for Lua tools) the same way.
config "$tmp/tool.yaml" "lua:route.lua" "      with: { keyword: x }" \
    "tools: { hostile: { use: \"lua:top_exec.lua\" } }"
o=$("$DC" --config "$tmp/tool.yaml" config check 2>&1)
c=$?
if [ $c -eq 2 ] && printf %s "$o" | grep -q "tools.hostile" &&
   printf %s "$o" | grep -q "in the worker"; then ok
else bad "config check of a hostile sandboxed tool: exit $c: $o"; fi
[ ! -e "$tmp/top-level-ran" ] && ok || bad "a top level ran os.execute"

# 6. Only Lua stages can be sandboxed.
cat >"$tmp/so.yaml" <<YAML
version: 1
plugins: { dirs: [$B/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: reply
  stages:
    reply: { use: answer, sandbox: true }
YAML
o=$("$DC" --config "$tmp/so.yaml" config check 2>&1)
c=$?
if [ $c -eq 2 ] && printf %s "$o" | grep -q "E-CFG-SANDBOX" &&
   printf %s "$o" | grep -q "so.yaml:[0-9]*:[0-9]*"; then ok
else bad "sandbox: true on a .so stage: exit $c: $o"; fi

echo "lua_sandbox_stage: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
