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

llm_lib_summary llm_config
