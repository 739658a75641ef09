#!/usr/bin/env bash
# Runs gate_overhead (argument 2) on a fresh small demo database, and on
# PostgreSQL too when a cluster is described by PGHOST (scripts/test's
# throwaway one): the demo data is loaded into datachat_bench_<pid>, which
# is dropped afterwards. Without PGHOST only SQLite is measured.
set -u
BUILD=$1
BENCH=${2:-$BUILD/tests/gate_overhead}
GEN=$BUILD/datachat-demo-gen
[ -x "$BENCH" ] || { echo "FAIL: $BENCH not built"; exit 1; }
[ -x "$GEN" ] || { echo "FAIL: $GEN not built"; exit 1; }
T=$(mktemp -d)
DB=datachat_bench_$$
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
have_pg=0
cleanup() {
    if [ "$have_pg" = 1 ]; then
        "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    fi
    rm -rf "$T"
}
trap cleanup EXIT
"$GEN" --out "$T/demo.db" --sql-out "$T/demo.sql" --scale 0.05 >/dev/null || { echo "FAIL: generator"; exit 1; }
args=("$BUILD" "$T/demo.db")
if [ -n "${PGHOST:-}" ] && command -v psql >/dev/null; then
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" || { echo "FAIL: CREATE DATABASE"; exit 1; }
    have_pg=1
    "${PSQL[@]}" -d "$DB" -f "$T/demo.sql" >/dev/null || { echo "FAIL: loading demo.sql"; exit 1; }
    args+=("$DB")
fi
"$BENCH" "${args[@]}"
