#!/usr/bin/env bash
# The hot path of a catalog question: "list tables" has no word a search
# would look for, so the runtime returns no hits without opening the
# retrieval index. Proof: no "index of demo" note in the trace and no index
# file in the store's cache directory; a question with a search word then
# opens (builds and saves) it, which shows the probes can see an index.
# Needs DC_BINARY_DIR. Exits 77 (skipped) when the CLI or plugins are not built.
set -u

B=${DC_BINARY_DIR:?DC_BINARY_DIR must point at the build directory}
DC=$B/datachat
GEN=$B/datachat-demo-gen
for f in "$DC" "$GEN" "$B/plugins/stage-intent.so" "$B/plugins/stage-catalog.so" \
         "$B/plugins/stage-answer.so" "$B/plugins/connector-sqlite.so"; do
    if [ ! -e "$f" ]; then
        echo "SKIP: $f is not built"
        exit 77
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$GEN" --out "$tmp/demo.db" --seed 42 --scale 0.1 >"$tmp/gen.log" 2>&1; then
    echo "FAIL: datachat-demo-gen failed:"
    cat "$tmp/gen.log"
    exit 1
fi
mkdir -p "$tmp/user"
cat >"$tmp/datachat.yaml" <<YAML
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
      on: { catalog: catalog, sql: reply, metric: reply, tool: reply,
            clarify: reply, refuse: reply }
    catalog:
      use: catalog
      on: { ok: reply, not_found: reply }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl, fsync: never }
datapoints: { user: [$tmp/user], managed: $tmp/managed }
store: { url: "sqlite:$tmp/state.db" }
YAML

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

for q in "list tables" "what tables are there?" "show me the tables"; do
    if ! "$DC" --config "$tmp/datachat.yaml" query --json "$q" >"$tmp/out" 2>"$tmp/err"; then
        bad "'$q' failed: $(cat "$tmp/err")"
        continue
    fi
    grep -q '"stage": "catalog"' "$tmp/out" && ok || bad "'$q' was not answered by the catalog: $(cat "$tmp/out")"
    grep -q 'index of demo' "$tmp/out" && bad "'$q' opened the index: $(cat "$tmp/out")" || ok
    ls "$tmp"/cache/retrieval-demo*.db >/dev/null 2>&1 && bad "'$q' built an index file" || ok
done

# The control: a search word opens the index, and the probes above see it.
"$DC" --config "$tmp/datachat.yaml" query --json "which table has email addresses" \
    >"$tmp/out" 2>"$tmp/err"
grep -q 'index of demo' "$tmp/out" && ok || bad "a search question did not open the index: $(cat "$tmp/out")"
ls "$tmp"/cache/retrieval-demo*.db >/dev/null 2>&1 && ok || bad "no index file after a search question"

echo "retrieval_skip: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
