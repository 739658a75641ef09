#!/usr/bin/env bash
# Metric questions: the whole `datachat query "Q"` process (intent, metric
# stage, DataPoint rendering, gate, audit) against the whole `sqlite3` process
# running the very statement DataChat ran, with the same bound values (both
# taken from `datachat query --json`: the "sql" field and the metric stage's
# "bound ?1=... ?2=..." trace note). Runs are interleaved after a warm-up, in
# the same invocation, so both see the same cache and machine load. Prints
# the median per question, the ratio per question and overall (sum of
# medians) and a final "RATIO x.xx" line. Target: <= 1.30. Always exits 0:
# it measures, it does not judge.
#
#   tests/bench/metric_vs_sqlite3.sh [--runs N] [--warmup N]
#
# Environment: DATACHAT (default ./build/datachat), DEMO_DB (var/demo.db).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

RUNS=10
WARMUP=2
while (( $# > 0 )); do
    case $1 in
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --warmup) WARMUP=${2:?--warmup needs a number}; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bench: unknown option '$1' (use --runs N, --warmup N)" >&2; exit 2 ;;
    esac
done
if ! [[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 && $WARMUP =~ ^[0-9]+$ ]]; then
    echo "bench: --runs must be a positive integer and --warmup a non-negative one" >&2
    exit 2
fi

DATACHAT=${DATACHAT:-./build/datachat}
DEMO_DB=${DEMO_DB:-var/demo.db}

QUESTIONS=(
    "revenue in 2025"
    "monthly revenue in 2025"
    "average order value by region"
    "refund rate in Q2 2026"
    "order count in Europe for the web channel"
)

if [[ ! -x $DATACHAT ]]; then
    echo "bench: $DATACHAT not found; build it first (scripts/setup)"
    echo "RATIO n/a"
    exit 0
fi
if [[ ! -f $DEMO_DB ]]; then
    echo "bench: $DEMO_DB not found; generate it first (scripts/setup)"
    echo "RATIO n/a"
    exit 0
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "bench: the sqlite3 command line tool is not installed (scripts/setup installs it)"
    echo "RATIO n/a"
    exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DB_ABS=$(cd "$(dirname "$DEMO_DB")" && pwd)/$(basename "$DEMO_DB")
cat >"$TMP/c.yaml" <<YAML
version: 1
databases:
  demo: { connector: sqlite, path: $DB_ABS }
pipeline:
  entry: intent
  stages:
    intent:
      use: intent
      on: { catalog: reply, sql: metric, metric: metric, tool: reply, clarify: reply, refuse: reply }
    metric: { use: metric, on: { ok: reply, clarify: reply, no_match: reply } }
    reply: { use: answer }
audit: { path: $TMP/audit.jsonl, fsync: always }
store: { url: "sqlite:$TMP/state.db" }
datapoints: { user: [$ROOT/datapoints/user], managed: $TMP/managed }
YAML
DC=("$DATACHAT" --config "$TMP/c.yaml")

if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { local t=${EPOCHREALTIME//[.,]/}; NOW=$((10#$t)); }
else
    now_us() { NOW=$(( $(date +%s%N) / 1000 )); }
fi

median_us() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

ERR_FILE=$TMP/err
run_timed() {
    local t0
    now_us; t0=$NOW
    STATUS=0
    "$@" >/dev/null 2>"$ERR_FILE" || STATUS=$?
    now_us; ELAPSED=$((NOW - t0))
}

# The statement and its bound values from the JSON answer: sqlite3 gets
# ".parameter set ?N 'value'" for each, then the SQL itself.
sqlite_args() { # json -> SQ array
    local json=$1 sql bound
    sql=$(sed -n 's/^  "sql": "\(.*\)",$/\1/p' <<<"$json" | sed 's/\\n/\n/g; s/\\"/"/g; s/\\\\/\\/g')
    bound=$(grep -o 'bound\( [?$][0-9]*=[^;"]*\)*' <<<"$json" | head -n 1)
    SQ=(sqlite3 -batch "$DEMO_DB" ".parameter init")
    local pair
    for pair in $(sed "s/^bound//; s/ \([?\$][0-9]*\)=/\n\1=/g" <<<"$bound" | tr ' ' '\001'); do
        pair=$(tr '\001' ' ' <<<"$pair")
        SQ+=(".parameter set ${pair%%=*} ${pair#*=}")
    done
    SQ+=("$sql")
}

echo "bench: $RUNS runs per question after $WARMUP warm-up runs; $DATACHAT vs sqlite3 on $DEMO_DB"
printf '%-42s %12s %12s %7s\n' "question" "datachat ms" "sqlite3 ms" "ratio"

sum_dc=0
sum_sq=0
counted=0
for q in "${QUESTIONS[@]}"; do
    if ! json=$("${DC[@]}" query --json "$q" 2>&1) || ! grep -q '"stage": "metric"' <<<"$json" ||
       ! grep -q 'bound ' <<<"$json"; then
        printf '%-42s %12s\n' "$q" "FAILED (not answered by the metric stage)"
        head -n 3 <<<"$json" | sed 's/^/    /'
        continue
    fi
    sqlite_args "$json"
    if ! "${SQ[@]}" >/dev/null 2>"$ERR_FILE"; then
        printf '%-42s %12s\n' "$q" "FAILED (sqlite3: $(head -n 1 "$ERR_FILE"))"
        continue
    fi
    for (( w = 0; w < WARMUP; w++ )); do
        run_timed "${DC[@]}" query "$q"
        run_timed "${SQ[@]}"
    done
    dc=()
    sq=()
    failed=0
    for (( r = 0; r < RUNS; r++ )); do
        run_timed "${DC[@]}" query "$q"
        (( STATUS == 0 )) || failed=$((failed + 1))
        dc+=("$ELAPSED")
        run_timed "${SQ[@]}"
        sq+=("$ELAPSED")
    done
    if (( failed )); then
        printf '%-42s %12s\n' "$q" "FAILED ($failed of $RUNS runs)"
        continue
    fi
    m_dc=$(median_us "${dc[@]}")
    m_sq=$(median_us "${sq[@]}")
    sum_dc=$((sum_dc + m_dc))
    sum_sq=$((sum_sq + m_sq))
    counted=$((counted + 1))
    awk -v q="$q" -v a="$m_dc" -v b="$m_sq" 'BEGIN {
        printf "%-42s %12.2f %12.2f %7.2f\n", q, a / 1000, b / 1000, (b > 0 ? a / b : 0) }'
done

if (( counted == 0 || sum_sq == 0 )); then
    echo "bench: no question was answered; nothing to compare"
    echo "RATIO n/a"
    exit 0
fi
awk -v n="$counted" -v a="$sum_dc" -v b="$sum_sq" 'BEGIN {
    printf "%-42s %12.2f %12.2f %7.2f\n", "overall (sum of " n " medians)", a / 1000, b / 1000, a / b
    printf "target: <= 1.30\n"
    printf "RATIO %.2f\n", a / b }'
exit 0
