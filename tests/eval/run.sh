#!/usr/bin/env bash
# Runs one gold-question suite of the compiler: demo (a demo database is
# generated into the build tree once), chinook or sakila (from the shared
# datasets folder; skipped with 77 when absent).
set -euo pipefail
suite=${1:?usage: run.sh demo|chinook|sakila [RUN_EVAL]}
runner=${2:-${DC_BINARY_DIR:?}/tests/run_eval}
src=${DC_SOURCE_DIR:?}
bin=${DC_BINARY_DIR:?}
datasets=${DC_DATASETS:-$src/../shared/datasets}
case $suite in
demo)
  db=$bin/eval-demo.db
  # Shared with compiler_cli, which may run at the same time: a private
  # temporary file renamed into place, so no reader sees a partial file.
  if [ ! -s "$db" ]; then
    "$bin/datachat-demo-gen" --out "$db.$$.tmp" >/dev/null
    mv -f "$db.$$.tmp" "$db"
  fi
  today=2026-06-30 ;;
chinook) db=$datasets/chinook/chinook.db; today=2025-12-31 ;;
sakila) db=$datasets/sakila/sakila.db; today=2006-02-28 ;;
*) echo "unknown suite $suite" >&2; exit 2 ;;
esac
if [ ! -r "$db" ]; then
  echo "skip: $db is absent"
  exit 77
fi
exec "$runner" "$db" "$src/tests/eval/$suite.tsv" --today "$today" \
  --baseline "$src/tests/eval/baseline.txt" ${DC_EVAL_VERBOSE:+-v}
