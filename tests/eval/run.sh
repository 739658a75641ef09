#!/usr/bin/env bash
# Runs one eval suite with `datachat eval` through the project's own
# configured pipeline (config/datachat.yaml, read from a private copy so
# the run's state, caches and audit log stay in a temporary directory).
#   run.sh catalog|intent|retrieval|qa   the demo database, generated into
#                                         the build tree once (seed 42)
#   run.sh chinook|sakila                the shared datasets folder (or
#                                         $DC_DATASETS); 77 when absent
# DC_EVAL_ARGS adds options (e.g. --json).
set -uo pipefail
suite=${1:?usage: run.sh SUITE}
src=${DC_SOURCE_DIR:?}
bin=${DC_BINARY_DIR:?}
dc=$bin/datachat
datasets=${DC_DATASETS:-$src/../shared/datasets}
[ -x "$dc" ] || { echo "skip: datachat is not built"; exit 77; }
case $suite in
chinook | sakila)
  db=$datasets/$suite/$suite.db
  file=$src/tests/eval/$suite.tsv
  if [ ! -r "$db" ]; then
    echo "skip: $db is absent"
    exit 77
  fi
  ;;
*)
  db=$bin/eval-demo.db
  file=$src/tests/eval/suites/$suite.tsv
  # Shared with other tests that may run at the same time: a private
  # temporary file renamed into place, so no reader sees a partial file.
  if [ ! -s "$db" ]; then
    "$bin/datachat-demo-gen" --out "$db.$$.tmp" >/dev/null && mv -f "$db.$$.tmp" "$db" || exit 1
  fi
  ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The config's relative paths (../datapoints, ../var, ...) resolve inside
# $tmp: everything but var/ and the build trees points back at the source.
mkdir -p "$tmp/config" "$tmp/var"
for e in "$src"/config/*; do
  [ "$(basename "$e")" = datachat.yaml ] || ln -s "$e" "$tmp/config/"
done
cp "$src/config/datachat.yaml" "$tmp/config/"
for d in "$src"/*/; do
  n=$(basename "$d")
  case $n in config | var | build*) ;; *) ln -s "$src/$n" "$tmp/$n" ;; esac
done
# shellcheck disable=SC2086
"$dc" --config "$tmp/config/datachat.yaml" --db "$db" --audit "$tmp/audit.jsonl" \
  eval "$file" -v ${DC_EVAL_ARGS:-}
