# Shared by tests/integration/server_*.sh and tests/bench/http_bench.sh:
# builds a throwaway config beside a generated demo database and starts
# `datachat serve` on a free loopback port (--listen 127.0.0.1:0; the
# server prints the port it got). Source it; it sets B, DC, tmp, TOKEN.
B=${DC_BINARY_DIR:?DC_BINARY_DIR must point at the build directory}
DC=$B/datachat
GEN=$B/datachat-demo-gen
for f in "$DC" "$GEN" "$B/plugins/stage-intent.so" "$B/plugins/stage-catalog.so" \
         "$B/plugins/stage-compiler.so" "$B/plugins/stage-answer.so" \
         "$B/plugins/connector-sqlite.so"; do
    if [ ! -e "$f" ]; then
        echo "SKIP: $f is not built"
        exit 77
    fi
done
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/setup)"; exit 77; }

tmp=$(mktemp -d)
SERVER_PIDS=()
server_cleanup() {
    local p
    for p in "${SERVER_PIDS[@]}"; do
        { kill -KILL "$p" && wait "$p"; } 2>/dev/null
    done
    rm -rf "$tmp"
}
trap server_cleanup EXIT

TOKEN=alice-token-0123456789
TOKEN_BOB=bob-token-9876543210
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

if ! "$GEN" --out "$tmp/demo.db" --seed 42 --scale 0.05 >"$tmp/gen.log" 2>&1; then
    echo "FAIL: datachat-demo-gen failed:"
    cat "$tmp/gen.log"
    exit 1
fi

# write_config FILE [EXTRA server.limits YAML]
write_config() {
    cat >"$1" <<YAML
version: 1
plugins: { dirs: [$B/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: intent
  max_steps: 8
  stages:
    intent:
      use: intent
      on: { catalog: catalog, sql: compiler, metric: compiler, tool: reply,
            clarify: reply, refuse: reply }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
datapoints: { user: [$tmp/dp/user], managed: $tmp/dp/managed }
server:
  tokens:
    - { sha256: $(sha "$TOKEN"), principal: alice }
    - { sha256: $(sha "$TOKEN_BOB"), principal: bob }
  limits: { ${2:-body_bytes: 65536, timeout_s: 2, concurrent_requests: 512, requests_per_minute: 100000} }
YAML
}

# start_server CONFIG [serve options...]: sets PORT and SERVER_PID.
start_server() {
    local cfg=$1 out
    shift
    out=$tmp/serve.$RANDOM
    "$DC" --config "$cfg" serve --listen 127.0.0.1:0 "$@" >"$out.out" 2>"$out.err" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    SERVER_ERR=$out.err
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/^datachat: serving on port \([0-9]*\).*/\1/p' "$out.out")
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: the server did not start:"
    cat "$out.err"
    exit 1
}
