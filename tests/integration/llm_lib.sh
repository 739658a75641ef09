# Checks shared by the LLM shell tests (llm_config.sh, sqlgen_cli.sh,
# llm_trace.sh, intent_llm.sh); sourced after T (a scratch directory) is
# set. Each check counts a pass or prints FAIL with what it saw; the test
# ends with `llm_lib_summary NAME`. fake_start needs FAKE (the fake_llm
# binary) and leaves the server's pid in FPID for the test's cleanup.
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # expect CODE NAME CMD...: stdout to $T/out, stderr to $T/err
    local code=$1 name=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$name: exit $rc, wanted $code"
        sed 's/^/    out: /' "$T/out" | head -8
        sed 's/^/    err: /' "$T/err" | head -8
    else
        ok
    fi
}
has() { # has FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then ok; else
        bad "$3: '$2' not in $(basename "$1")"
        sed 's/^/    | /' "$1" | head -12
    fi
}
hasnt() { # hasnt FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then bad "$3: '$2' must not be in $(basename "$1")"; else ok; fi
}
# A question the deterministic compiler is unsure about, with a model's good
# answer and one naming a table that does not exist.
Q="which nations have the most shoppers, ranked by headcount"
GOOD='```sql
SELECT country, count(*) AS shoppers FROM customers GROUP BY country ORDER BY shoppers DESC
```'
BAD='```sql
SELECT nation, count(*) FROM shoppers GROUP BY nation
```'

# llm_fake_setup BUILD: DC, GEN and FAKE from the build directory (FAIL when
# one is missing), a scratch directory T removed on exit together with the
# fake server (FPID) and a server the test started (SPID), and $T/demo.db.
llm_fake_setup() {
    BUILD=$1
    DC=$BUILD/datachat
    GEN=$BUILD/datachat-demo-gen
    FAKE=$BUILD/tests/fake_llm
    for x in "$DC" "$GEN" "$FAKE"; do
        [ -x "$x" ] || { echo "FAIL: $x not built"; exit 1; }
    done
    T=$(mktemp -d)
    FPID=
    SPID=
    trap llm_cleanup EXIT
    "$GEN" --out "$T/demo.db" >/dev/null || { echo "FAIL: demo generator"; exit 1; }
}
llm_cleanup() {
    [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
    [ -n "${FPID:-}" ] && kill "$FPID" 2>/dev/null
    rm -rf "$T"
}
# fake_reply TEXT [PROMPT_TOKENS COMPLETION_TOKENS]: a script entry that is
# an OpenAI chat completion whose message content is TEXT.
fake_reply() {
    printf '{"json":{"choices":[{"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":%s,"completion_tokens":%s}}}' \
        "$(printf '%s' "$1" | jq -Rs .)" "${2:-50}" "${3:-10}"
}
# fake_start ENTRY...: a fresh fake server answering with these script
# entries; its requests go to $T/record.jsonl (emptied), its port to PORT.
fake_start() {
    [ -n "${FPID:-}" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
    # IFS only for the join: the wait loop below needs seq's lines split.
    (IFS=,; printf '[%s]' "$*") >"$T/script.json"
    rm -f "$T/port"
    : >"$T/record.jsonl"
    "$FAKE" --script "$T/script.json" --record "$T/record.jsonl" >"$T/port" 2>"$T/fake.err" &
    FPID=$!
    # Under sanitizers on a loaded machine the server can take seconds.
    for _ in $(seq 1200); do
        [ -s "$T/port" ] && break
        kill -0 "$FPID" 2>/dev/null || break
        sleep 0.1
    done
    PORT=$(head -1 "$T/port")
    if [ -z "$PORT" ]; then
        echo "FAIL: fake_llm did not print its port within 120 s ($(kill -0 "$FPID" 2>/dev/null &&
            echo still running || echo exited)):"
        cat "$T/fake.err"
        exit 1
    fi
}
# llm_write_config BASE_URL KEY_ENV [INTENT_WITH] [MORE_YAML]: $T/c.yaml, the
# default graph over $T/demo.db with one openai instance "default" (model
# m1, no retries); INTENT_WITH is the intent stage's with: options, MORE_YAML
# extra top-level lines. sqlgen is inserted implicitly.
llm_write_config() {
    local with=
    [ -n "${3:-}" ] && with="with: { $3 },"
    cat >"$T/c.yaml" <<YAML
version: 1
databases:
  demo: { connector: sqlite, path: demo.db }
llm:
  default: { provider: openai, base_url: "$1", model: m1, api_key_env: $2, retries: 0, timeout_ms: 10000 }
pipeline:
  entry: intent
  max_steps: 16
  stages:
    intent: { use: intent, $with on: { catalog: catalog, sql: metric, metric: metric, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    metric: { use: metric, on: { ok: reply, clarify: reply, no_match: compiler } }
    compiler: { use: compiler, on: { ok: reply, unsure: reply } }
    reply: { use: answer }
audit: { path: audit.jsonl }
${4:-}
YAML
}
llm_lib_summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
