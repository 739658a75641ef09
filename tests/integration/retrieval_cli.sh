#!/usr/bin/env bash
# Retrieval end to end: `datachat query --json` on a generated, profiled
# demo database shows a "retrieval" trace step with typed ids and scores;
# the index file is written once, reused by the next process, and rebuilt
# when it is damaged or a DataPoint changes.
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
cat >"$tmp/user/revenue.yaml" <<'YAML'
id: revenue
type: metric
name: Revenue
definition: Money from completed orders.
synonyms: [turnover, takings]
data_sources:
  - table: orders
    columns: [total_amount]
YAML
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

# The JSON answer; the trace step "retrieval" is the only one whose reason
# says "top N: id score, ...".
ask() {
    "$DC" --config "$tmp/datachat.yaml" query --json "$1" >"$tmp/reason" 2>"$tmp/err"
    grep -q '"stage": "retrieval"' "$tmp/reason" || echo "(no retrieval step)" >>"$tmp/reason"
}

if ! "$DC" --config "$tmp/datachat.yaml" profile demo >"$tmp/profile.log" 2>&1; then
    bad "datachat profile demo failed: $(cat "$tmp/profile.log")"
fi

ask "which table has email addresses"
grep -Eq 'top [0-9]+: column:customers\.email [0-9]+\.[0-9]{2}' "$tmp/reason" && ok ||
    bad "email question: $(cat "$tmp/reason")"
grep -q 'built; saved' "$tmp/reason" && ok || bad "first process did not build and save: $(cat "$tmp/reason")"
ls "$tmp"/cache/retrieval-demo.db >/dev/null 2>&1 && ok || bad "no index file in $tmp/cache"

ask "customers in Brazil"
grep -Eq 'value:customers\.country=Brazil [0-9]+\.[0-9]{2}' "$tmp/reason" && ok ||
    bad "profiled value not retrieved: $(cat "$tmp/reason")"
grep -q 'documents, file in' "$tmp/reason" && ok || bad "second process did not reuse the file: $(cat "$tmp/reason")"

ask "what was the turnover"
grep -Eq 'top [0-9]+: dp:revenue [0-9]+\.[0-9]{2}' "$tmp/reason" && ok ||
    bad "synonym did not find the metric first: $(cat "$tmp/reason")"

# A damaged file is rebuilt, and the answer is unaffected.
printf 'garbage' >"$tmp/cache/retrieval-demo.db"
ask "which table has email addresses"
grep -q 'rebuilt (corrupt or foreign file); saved' "$tmp/reason" && ok ||
    bad "corrupt file not rebuilt: $(cat "$tmp/reason")"

# A changed DataPoint changes the checksum: rebuilt, and the new synonym works.
sed -i 's/\[turnover, takings\]/[turnover, takings, proceeds]/' "$tmp/user/revenue.yaml"
ask "proceeds"
grep -q 'rebuilt (stale file); saved' "$tmp/reason" && grep -q 'dp:revenue' "$tmp/reason" && ok ||
    bad "changed DataPoint did not rebuild: $(cat "$tmp/reason")"

# Touched but unchanged: the fingerprint moves, the checksum does not, so
# the file is used as it is (and re-keyed: the next process skips even
# the checksum).
touch -d '2001-01-01 00:00' "$tmp/user/revenue.yaml"
ask "proceeds"
grep -q 'documents, file in' "$tmp/reason" && grep -q 'dp:revenue' "$tmp/reason" && ok ||
    bad "touched DataPoint caused a rebuild: $(cat "$tmp/reason")"

# -v shows the trace, retrieval included, on stderr of a text answer.
"$DC" --config "$tmp/datachat.yaml" -v query "which table has email addresses" >"$tmp/out" 2>"$tmp/err"
grep -q 'retrieval.*column:customers.email' "$tmp/err" && ok || bad "text trace lacks retrieval: $(cat "$tmp/err")"

echo "retrieval_cli: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
