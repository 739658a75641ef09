#!/usr/bin/env bash
# A sandboxed Lua tool's dc.http goes through the core: a host on the tool's
# http_allow reaches a real loopback server (`datachat serve`, GET /health);
# a host off the list, or a tool with no http_allow, is refused by the core;
# each request leaves an audit record (tool, method, host, status, bytes)
# and the chain still verifies. Bad http_allow config fails with file:line:col.
# A .so tool's http_request (ABI 1.4) takes the same path, sandboxed (over
# IPC) or in the core, with the caller's principal in the audit record.
set -u
. "$(dirname "$0")/server_lib.sh"
[ -e "$B/datachat-worker" ] || { echo "SKIP: datachat-worker is not built"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/setup)"; exit 77; }

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

write_config "$tmp/server.yaml"
start_server "$tmp/server.yaml"

mkdir -p "$tmp/t"
cat >"$tmp/t/fetch.lua" <<'LUA'
function invoke(args)
  local status, body = dc.http("GET", args.url)
  return { status = status, body = body }
end
LUA
# tools_yaml FILE TOOLS-YAML: a config whose tools: section is TOOLS-YAML.
tools_yaml() {
    cat >"$1" <<YAML
version: 1
plugins: { dirs: [$B/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: reply
  stages:
    reply: { use: answer }
audit: { path: $tmp/t/audit.jsonl, fsync: never }
tools:
$2
YAML
}
tools_yaml "$tmp/t/datachat.yaml" "  fetch: { use: \"lua:fetch.lua\", http_allow: [127.0.0.1] }
  elsewhere: { use: \"lua:fetch.lua\", http_allow: [api.example.com] }
  nolist: { use: \"lua:fetch.lua\" }"

call() { "$DC" --config "$tmp/t/datachat.yaml" tools call "$1" "{\"url\":\"$2\"}" 2>&1; }
URL=http://127.0.0.1:$PORT/health

out=$(call fetch "$URL")
rc=$?
if [ $rc -eq 0 ] && printf %s "$out" | grep -q '"status":200' &&
   printf %s "$out" | grep -qF '{\"status\":\"ok\"}'; then ok; else bad "allowed host: rc $rc: $out"; fi

# refused WHAT TOOL URL CODE: the call fails with CODE in its message.
refused() {
    local o c
    o=$(call "$2" "$3")
    c=$?
    if [ $c -ne 0 ] && printf %s "$o" | grep -q "$4"; then ok; else bad "$1: rc $c: $o"; fi
}
refused "host off the list" elsewhere "$URL" E-SANDBOX-HTTP-HOST
refused "no http_allow" nolist "$URL" E-SANDBOX-HTTP-HOST
refused "file URL" fetch "file:///etc/passwd" E-SANDBOX-HTTP-URL
refused "credentials in the URL" fetch "http://user:pw@127.0.0.1:$PORT/health" E-HTTP-URL
# A closed port: the transport's error comes back, nothing hangs.
refused "closed port" fetch "http://127.0.0.1:1/health" E-HTTP-CONNECT

A=$tmp/t/audit.jsonl
http_rec() { jq -c "select(.question? // \"\" | startswith(\"http request: tool $1: \"))" "$A"; }
r=$(http_rec fetch | head -1)
if printf %s "$r" | jq -e '.outcome == "ok" and .event == "http" and
      (.question | endswith("GET 127.0.0.1")) and (.policy | test("status 200; [1-9][0-9]* bytes"))' \
      >/dev/null; then ok; else bad "audit of the allowed request: $r"; fi
if http_rec fetch | grep -q "/health"; then bad "audit carries the URL path"; else ok; fi
for t in elsewhere nolist; do
    r=$(http_rec $t)
    if printf %s "$r" | jq -e '.outcome == "refused" and .code == "E-SANDBOX-HTTP-HOST"' \
          >/dev/null; then ok; else bad "audit of the refused request ($t): $r"; fi
done
n=$(http_rec fetch | wc -l)
[ "$n" -eq 4 ] && ok || bad "4 audit records of tool fetch's requests, got $n"
r=$(http_rec fetch | jq -c 'select(.code == "E-HTTP-CONNECT")')
[ -n "$r" ] && ok || bad "audit of the failed fetch (E-HTTP-CONNECT)"
# The record names who made the call (the principal travels with the call).
"$DC" --config "$tmp/t/datachat.yaml" --as carol tools call fetch "{\"url\":\"$URL\"}" \
    >/dev/null 2>&1
r=$(http_rec fetch | tail -1)
if printf %s "$r" | jq -e '.principal == "carol" and .outcome == "ok"' >/dev/null; then ok
else bad "audit of a request names its principal: $r"; fi
"$DC" audit verify "$A" >/dev/null 2>&1 && ok || bad "the audit chain does not verify"

# Config errors: exit 2, file:line:col, a stable code.
cfg_err() { # NAME TOOLS-YAML PATTERN
    tools_yaml "$tmp/t/bad.yaml" "$2"
    local o
    o=$("$DC" --config "$tmp/t/bad.yaml" tools list 2>&1)
    local c=$?
    if [ $c -eq 2 ] && printf %s "$o" | grep -q "$3" &&
       printf %s "$o" | grep -q "bad.yaml:[0-9]*:[0-9]*"; then ok
    else bad "$1: exit $c: $o"; fi
}
cfg_err "URL instead of a host" '  f: { use: "lua:fetch.lua", http_allow: ["http://127.0.0.1"] }' \
    'E-CFG-HTTP-ALLOW'
cfg_err "host with a port" '  f: { use: "lua:fetch.lua", http_allow: [ "127.0.0.1:8080" ] }' \
    'E-CFG-HTTP-ALLOW'
cfg_err "wildcard host" '  f: { use: "lua:fetch.lua", http_allow: ["*.example.com"] }' \
    'E-CFG-HTTP-ALLOW'
cfg_err "not a list" '  f: { use: "lua:fetch.lua", http_allow: api.example.com }' 'E-CFG-TYPE'
cfg_err "sandbox: false" \
    '  f: { use: "lua:fetch.lua", sandbox: false, http_allow: [api.example.com] }' \
    'not sandboxed'
cfg_err "use: http" "  f: { use: http, http_allow: [127.0.0.1], with: { endpoint: \"$URL\", allowed_hosts: [127.0.0.1] } }" \
    'E-CFG-HTTP-ALLOW'

# A .so tool's http_request (ABI 1.4): sandboxed, the worker forwards it to
# the core; in the core it is made there; the same allow list and audit.
if [ -e "$B/tests/sbplugins/sbhttp.so" ]; then
    cat >"$tmp/t/so.yaml" <<YAML
version: 1
plugins: { dirs: [$B/plugins, $B/tests/sbplugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: reply
  stages:
    reply: { use: answer }
audit: { path: $tmp/t/so-audit.jsonl, fsync: never }
tools:
  sofetch: { use: sbhttp, sandbox: true, http_allow: [127.0.0.1] }
  sooff: { use: sbhttp, sandbox: true, http_allow: [api.example.com] }
  soin: { use: sbhttp, sandbox: false, http_allow: [127.0.0.1] }
YAML
    socall() { "$DC" --config "$tmp/t/so.yaml" --as erin tools call "$1" "{\"url\":\"$2\"}" 2>&1; }
    for t in sofetch soin; do
        o=$(socall $t "$URL")
        c=$?
        if [ $c -eq 0 ] && printf %s "$o" | grep -q '"status":200' &&
           printf %s "$o" | grep -qF '{\"status\":\"ok\"}'; then ok
        else bad ".so tool $t fetching an allowed host: rc $c: $o"; fi
    done
    o=$(socall sooff "$URL")
    c=$?
    if [ $c -ne 0 ] && printf %s "$o" | grep -q E-SANDBOX-HTTP-HOST; then ok
    else bad ".so tool off its allow list: rc $c: $o"; fi
    SA=$tmp/t/so-audit.jsonl
    so_rec() { jq -c "select(.question? // \"\" | startswith(\"http request: tool $1: \"))" "$SA"; }
    for t in sofetch soin; do
        r=$(so_rec $t)
        if printf %s "$r" | jq -e '.event == "http" and .outcome == "ok" and
              .principal == "erin" and (.question | endswith("GET 127.0.0.1"))' >/dev/null
        then ok; else bad "audit of .so tool $t's request: $r"; fi
    done
    r=$(so_rec sooff)
    if printf %s "$r" | jq -e '.outcome == "refused" and .code == "E-SANDBOX-HTTP-HOST" and
          .principal == "erin"' >/dev/null; then ok
    else bad "audit of the refused .so request: $r"; fi
    "$DC" audit verify "$SA" >/dev/null 2>&1 && ok || bad "the .so audit chain does not verify"
else
    bad "tests/sbplugins/sbhttp.so is not built"
fi

echo "tools_sandbox_http: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
