# Shared by tests/integration/{session,chat,cache,feedback}_*.sh: a
# generated demo database, a config with its own state store, and check().
# Source it; it sets B, DC, tmp, CFG, pass, fail.
B=${DC_BINARY_DIR:?DC_BINARY_DIR must point at the build directory}
DC=$B/datachat
for f in "$DC" "$B/datachat-demo-gen" "$B/plugins/stage-intent.so" "$B/plugins/stage-compiler.so" \
         "$B/plugins/stage-metric.so" "$B/plugins/stage-answer.so" "$B/plugins/connector-sqlite.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 CLI not installed (scripts/setup)"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed (scripts/setup)"; exit 77; }
tmp=$(mktemp -d)
SPID=
stop_server() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }; SPID=; }
trap 'stop_server; rm -rf "$tmp"' EXIT
"$B/datachat-demo-gen" --out "$tmp/demo.db" --seed 42 --scale 0.05 >/dev/null || exit 1
pass=0
fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=1; fi; }
finish() { echo "$pass checks passed"; exit $fail; }

# write_config FILE [extra top-level YAML] [extra store: keys]
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
      on: { catalog: catalog, sql: metric, metric: metric, tool: reply, clarify: reply, refuse: reply }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    metric: { use: metric, on: { ok: reply, clarify: reply, no_match: compiler } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
store: { url: "sqlite:$tmp/var/state.db" ${3:+, $3} }
datapoints: { user: [$tmp/dp], managed: $tmp/managed }
${2:-}
YAML
}
# No DataPoints: the compiler answers, whatever metrics the repository ships.
mkdir -p "$tmp/dp"
CFG=$tmp/c.yaml
write_config "$CFG"
# jf FILE FILTER: a value from a JSON answer by a jq filter; nothing for null.
jf() { jq -r "($2) // empty" "$1" 2>/dev/null; }

# start_server CONFIG [options]: `datachat serve --dev` on a free loopback
# port; sets port and SPID (stop_server stops it).
start_server() {
    local cfg=$1
    shift
    "$DC" --config "$cfg" "$@" serve --dev --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
    SPID=$!
    port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's/^datachat: serving on port \([0-9]*\).*/\1/p' "$tmp/serve.out")
        [ -n "$port" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: the server did not start:"
    cat "$tmp/serve.err"
    exit 1
}
# post PATH JSON: the reply body in $tmp/r.json, the status on stdout.
post() { curl -s -o "$tmp/r.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$port$1"; }
