#!/usr/bin/env bash
# `llm:` entries through the datachat executable: both providers load and
# check, keys only by environment variable name, unknown options and bad
# URLs are clear errors, and a configured but unreachable model with no key
# leaves the deterministic path working.
set -u
BUILD=$1
DC=$BUILD/datachat
GEN=$BUILD/datachat-demo-gen
[ -x "$DC" ] || { echo "FAIL: $DC not built"; exit 1; }
[ -x "$GEN" ] || { echo "FAIL: $GEN not built"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/llm_lib.sh"

"$GEN" --out "$T/demo.db" >/dev/null || { echo "FAIL: demo generator"; exit 1; }
cat >"$T/ok.yaml" <<YAML
version: 1
databases:
  demo: { connector: sqlite, path: demo.db }
llm:
  default: { provider: openai, base_url: "http://127.0.0.1:1/v1", model: m1, api_key_env: DC_LLM_TEST_UNSET }
  claude: { provider: anthropic, model: c1, stream: true }
pipeline:
  entry: intent
  stages:
    intent: { use: intent, on: { catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply } }
    reply: { use: answer }
audit: { path: audit.jsonl }
YAML
unset DC_LLM_TEST_UNSET

expect 0 "config check with both providers" "$DC" config check "$T/ok.yaml"
expect 0 "plugins list" "$DC" --config "$T/ok.yaml" plugins list
has "$T/out" "openai" "plugins list shows llm-openai"
has "$T/out" "anthropic" "plugins list shows llm-anthropic"
expect 0 "deterministic path with an unreachable model and no key" \
    "$DC" --config "$T/ok.yaml" query "list tables"
has "$T/out" "orders" "catalog answer"

sed 's/stream: true/api_key: sk-inline-123/' "$T/ok.yaml" >"$T/inline.yaml"
expect 2 "inline api_key refused" "$DC" config check "$T/inline.yaml"
has "$T/err" "E-CFG-INLINE-SECRET" "inline key code"
has "$T/err" "api_key_env" "inline key hint"
hasnt "$T/err" "sk-inline-123" "inline key not echoed"

sed 's/stream: true/colour: red/' "$T/ok.yaml" >"$T/unknown.yaml"
expect 2 "unknown llm option" "$DC" config check "$T/unknown.yaml"
has "$T/err" "unknown.yaml:6:" "unknown option position"
has "$T/err" "E-CFG-UNKNOWN-KEY" "unknown option code"

sed 's/stream: true/retries: many/' "$T/ok.yaml" >"$T/type.yaml"
expect 2 "retries must be an integer" "$DC" config check "$T/type.yaml"
has "$T/err" "retries" "type error names the option"

sed 's/provider: openai/provider: nosuch/' "$T/ok.yaml" >"$T/noplugin.yaml"
expect 2 "unknown provider" "$DC" config check "$T/noplugin.yaml"
has "$T/err" "nosuch" "unknown provider named"

sed 's#http://127.0.0.1:1/v1#ftp://x#' "$T/ok.yaml" >"$T/badurl.yaml"
expect 2 "non-http base_url refused at start" "$DC" --config "$T/badurl.yaml" query "list tables"
has "$T/err" "badurl.yaml:5:" "bad base_url position"
has "$T/err" "base_url 'ftp://x'" "bad base_url named"

sed 's#http://127.0.0.1:1/v1#http://user:pw@127.0.0.1:1/v1#' "$T/ok.yaml" >"$T/cred.yaml"
expect 2 "credentials in base_url refused" "$DC" --config "$T/cred.yaml" query "list tables"
hasnt "$T/err" "user:pw" "credentials not echoed"

# Malformed base_urls libcurl would quietly accept (an empty port meant port
# 80) are refused at start with the option's own position; both providers.
bad_url() { # bad_url URL WHY PROVIDER
    local f="$T/url.yaml"
    if [ "$3" = anthropic ]; then
        sed "s#claude: { provider: anthropic, model: c1, stream: true }#claude: { provider: anthropic, model: c1, base_url: \"$1\" }#" "$T/ok.yaml" >"$f"
    else
        sed "s#http://127.0.0.1:1/v1#$1#" "$T/ok.yaml" >"$f"
    fi
    expect 2 "$3 base_url $1 refused at start" "$DC" --config "$f" query "list tables"
    has "$T/err" "E-CFG-LLM-URL" "$1: error code"
    has "$T/err" "url.yaml:$([ "$3" = anthropic ] && echo 6 || echo 5):" "$1: file:line"
    has "$T/err" "llm.$([ "$3" = anthropic ] && echo claude || echo default).base_url" "$1: field"
    has "$T/err" "$2" "$1: reason"
    expect 2 "$3 base_url $1 refused by config check" "$DC" config check "$f"
    has "$T/err" "E-CFG-LLM-URL" "$1: config check error code"
}
bad_url "http://127.0.0.1:/v1" "port after ':' is empty" openai
bad_url "http://127.0.0.1:/v1" "port after ':' is empty" anthropic
bad_url "http://[::1]:/v1" "port after ':' is empty" openai
bad_url "gopher://127.0.0.1/v1" "scheme 'gopher' is not http or https" openai
bad_url "ftp://127.0.0.1/v1" "scheme 'ftp' is not http or https" anthropic
bad_url "http:///v1" "names no host" openai
bad_url "http://127.0.0.1:99999/v1" "libcurl cannot parse it" openai
bad_url "http://127.0.0.1:0/v1" "port 0" anthropic
bad_url "http://127.0.0.1:8080/v1?x=1" "query or fragment" openai
bad_url "not a url" "is not an http:// or https:// URL" openai
sed 's#http://127.0.0.1:1/v1#HTTPS://[::1]:8443/v1/#' "$T/ok.yaml" >"$T/v6.yaml"
expect 0 "an IPv6 https base_url with a port is accepted" "$DC" --config "$T/v6.yaml" query "list tables"

llm_lib_summary llm_config
