#!/usr/bin/env bash
# Catalog questions: the whole `datachat query "Q"` process against the whole
# `sqlite3 DB "SQL"` process answering the same thing from the same file.
# Runs are interleaved (datachat, sqlite3, datachat, ...) after a warm-up so
# both see the same cache and machine load. Prints the median per question,
# the ratio datachat/sqlite3 per question and overall (sum of medians), and a
# final "RATIO x.xx" line. Target: <= 1.30. Always exits 0: it measures, it
# does not judge.
#
#   tests/bench/cli_vs_sqlite3.sh [--runs N] [--warmup N]
#
# Environment: DATACHAT (default ./build/datachat), DEMO_DB (var/demo.db).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

RUNS=20
WARMUP=3
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
    "list the tables"
    "describe the customers table"
    "show 5 rows from products"
    "how many rows are in the orders table"
    "what columns does order_items have"
)
SQLS=(
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    "PRAGMA table_info(customers)"
    "SELECT * FROM products LIMIT 5"
    "SELECT count(*) FROM orders"
    "SELECT name FROM pragma_table_info('order_items')"
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

# Microseconds since the epoch without forking (bash 5), else via date(1).
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { local t=${EPOCHREALTIME//[.,]/}; NOW=$((10#$t)); }
else
    now_us() { NOW=$(( $(date +%s%N) / 1000 )); }
fi

# median_us VALUES... -> integer microseconds
median_us() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

ERR_FILE=$(mktemp)
trap 'rm -f "$ERR_FILE"' EXIT
run_timed() { # sets ELAPSED (us) and STATUS; stdout discarded, stderr kept in ERR_FILE
    local t0
    now_us; t0=$NOW
    STATUS=0
    "$@" >/dev/null 2>"$ERR_FILE" || STATUS=$?
    now_us; ELAPSED=$((NOW - t0))
}

echo "bench: $RUNS runs per question after $WARMUP warm-up runs; $DATACHAT vs sqlite3 on $DEMO_DB"
printf '%-42s %12s %12s %7s\n' "question" "datachat ms" "sqlite3 ms" "ratio"

sum_dc=0
sum_sq=0
counted=0
for i in "${!QUESTIONS[@]}"; do
    q=${QUESTIONS[$i]}
    sql=${SQLS[$i]}
    # One checked run first: a question the CLI cannot answer is reported,
    # not timed, since a fast failure would flatter the ratio.
    if ! out=$("$DATACHAT" query "$q" 2>&1); then
        printf '%-42s %12s\n' "$q" "FAILED"
        head -n 3 <<<"$out" | sed 's/^/    /'
        continue
    fi
    if [[ $sql == "SELECT count(*) FROM orders" ]]; then
        expected=$(sqlite3 -batch "$DEMO_DB" "$sql")
        if ! grep -q -- "$expected" <<<"$out"; then
            echo "    note: the answer to '$q' does not mention $expected"
        fi
    fi
    for (( w = 0; w < WARMUP; w++ )); do
        run_timed "$DATACHAT" query "$q"
        run_timed sqlite3 -batch "$DEMO_DB" "$sql"
    done
    dc=()
    sq=()
    failed=0
    first_error=""
    for (( r = 0; r < RUNS; r++ )); do
        run_timed "$DATACHAT" query "$q"
        if (( STATUS != 0 )); then
            failed=$((failed + 1))
            [[ -n $first_error ]] || first_error="exit $STATUS: $(head -n 2 "$ERR_FILE")"
        fi
        dc+=("$ELAPSED")
        run_timed sqlite3 -batch "$DEMO_DB" "$sql"
        sq+=("$ELAPSED")
    done
    if (( failed )); then
        printf '%-42s %12s\n' "$q" "FAILED ($failed of $RUNS runs)"
        printf '    first failure: %s\n' "$first_error"
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
