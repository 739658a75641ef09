#!/usr/bin/env bash
# The MCP server against the official TypeScript SDK client
# (@modelcontextprotocol/sdk, installed with npm into a temp dir): stdio and
# streamable HTTP. Skips (77) only when node/npm are missing or the npm
# registry cannot be reached; every other failure fails.
set -u
. "$(dirname "$0")/server_lib.sh"
SDK_VERSION=1.32.2
for t in node npm; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/setup)"; exit 77; }
done
mkdir -p "$tmp/npm" && cd "$tmp/npm" || exit 1
printf '{"name":"dc-mcp-test","private":true,"type":"module"}\n' >package.json
if ! timeout 600 npm install --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/sdk@$SDK_VERSION" >"$tmp/npm.log" 2>&1; then
    # No route to the registry, or a TLS-intercepting proxy whose CA this
    # machine does not trust: the registry cannot be reached safely here.
    if grep -qiE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network|proxy|SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED' "$tmp/npm.log"; then
        echo "SKIP: the npm registry cannot be reached:"
        tail -5 "$tmp/npm.log"
        exit 77
    fi
    echo "FAIL: npm install @modelcontextprotocol/sdk@$SDK_VERSION:"
    tail -20 "$tmp/npm.log"
    exit 1
fi
cp "$(dirname "$0")/mcp_sdk.mjs" "$tmp/npm/" 2>/dev/null ||
    cp "$DC_SOURCE_DIR/tests/integration/mcp_sdk.mjs" "$tmp/npm/"
write_config "$tmp/cfg.yaml"
start_server "$tmp/cfg.yaml"
timeout 300 node "$tmp/npm/mcp_sdk.mjs" "$DC" "$tmp/demo.db" "$tmp/audit-stdio.jsonl" \
    "$PORT" "$TOKEN"
