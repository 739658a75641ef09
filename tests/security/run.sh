#!/bin/sh
# Runs cases.txt through `datachat sql --json --as PRINCIPAL` against a
# fresh hr.db built from hr.sql under the policy hr_policy.yaml. For every
# case: the exit status and code expected, the case's checks, no canary of
# the principal in the output, one new audit record for it, and the
# database file byte-for-byte unchanged (cases_lib.sh).
# Usage: run.sh DATACHAT MKDB SRC_DIR WORK_DIR
set -u
DC=$1 MKDB=$2 SRC=$3 WORK=$4
command -v sha256sum >/dev/null 2>&1 || { echo "sha256sum missing"; exit 77; }
rm -rf "$WORK" && mkdir -p "$WORK/policies" || exit 1
"$MKDB" "$SRC/hr.sql" "$WORK/hr.db" || exit 1
cp "$SRC/hr_policy.yaml" "$WORK/policies/hr.yaml" || exit 1
cat >"$WORK/datachat.yaml" <<YAML
version: 1
databases:
  hr: { connector: sqlite, path: hr.db }
pipeline:
  entry: reply
  stages:
    reply:
      use: answer
audit:
  path: audit.jsonl
  fsync: never
policies: policies/*.yaml
default_principal: analyst
YAML
state_sum() { sha256sum "$WORK/hr.db" | cut -d' ' -f1; }
. "$SRC/cases_lib.sh"
run_cases "$SRC/cases.txt"
verify_audit
echo "security: $pass of $total cases passed"
[ "$fail" = 0 ] && [ "$total" -ge 40 ]
