#!/bin/sh
# Runs cases.txt through `datachat sql --json --as PRINCIPAL` against a
# fresh hr.db built from hr.sql under the policy hr_policy.yaml. For every
# case: the exit status and code expected, the case's checks, no canary of
# the principal in the output, one new audit record for it, and the
# database file byte-for-byte unchanged.
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
SUM0=$(sha256sum "$WORK/hr.db" | cut -d' ' -f1)
pass=0 fail=0 total=0

canaries() {
    case $1 in
    auditor) printf '%s\n' 111-22 999-88 9173 '+1 555' '+33 1' 'CANARY note' 'CANARY us' TOPSECRET ;;
    *) printf '%s\n' CANARY 999-88 111-22 9173 '+1 555' '+33 1' hidden TOPSECRET ;;
    esac
}

bad() {
    echo "FAIL $name: $*"
    ok=0
}

while IFS= read -r line; do
    case $line in '#'* | '') continue ;; esac
    total=$((total + 1))
    name=$(echo "$line" | cut -d'|' -f1 | tr -d ' ')
    who=$(echo "$line" | cut -d'|' -f2 | tr -d ' ')
    expect=$(echo "$line" | cut -d'|' -f3 | tr -d ' ')
    checks=$(echo "$line" | cut -d'|' -f4 | sed 's/^ *//; s/ *$//')
    sql=$(echo "$line" | cut -d'|' -f5- | sed 's/^ *//')
    ok=1
    before=$(wc -l 2>/dev/null <"$WORK/audit.jsonl" || echo 0)
    out=$(cd "$WORK" && "$DC" sql --json --config datachat.yaml --as "$who" "$sql" 2>&1)
    rc=$?
    case $expect in
    ok) want=0 code= ;;
    refused:*) want=3 code=${expect#refused:} ;;
    error:*) want=1 code=${expect#error:} ;;
    *) bad "unknown expectation $expect"; want=-1 code= ;;
    esac
    [ "$rc" = "$want" ] || bad "exit $rc, expected $want"
    if [ -n "$code" ]; then
        echo "$out" | grep -q "\"code\": \"$code\"" || bad "code $code not in output"
    fi
    for c in $checks; do
        case $c in
        -) ;;
        rows=*) echo "$out" | grep -q "\"row_count\": ${c#rows=}," || bad "expected $c" ;;
        has=*) echo "$out" | grep -qF -- "${c#has=}" || bad "expected output to contain ${c#has=}" ;;
        trunc) echo "$out" | grep -q '"truncated": true' || bad "expected a truncated result" ;;
        *) bad "unknown check $c" ;;
        esac
    done
    # The request's own SQL is echoed back, and timings are numbers that may
    # happen to contain a canary's digits; everything else must be clean.
    body=$(echo "$out" | grep -vE '^  "sql": |"(total_us|stages_us|us)": [0-9]+' |
        sed -E 's/ in [0-9]+ us//g')
    canaries "$who" >"$WORK/canaries"
    while IFS= read -r k; do
        echo "$body" | grep -qF -- "$k" && bad "canary '$k' leaked"
    done <"$WORK/canaries"
    after=$(wc -l 2>/dev/null <"$WORK/audit.jsonl" || echo 0)
    [ "$after" -eq $((before + 1)) ] || bad "expected one new audit record, got $((after - before))"
    last=$(tail -n 1 "$WORK/audit.jsonl")
    echo "$last" | grep -qF "\"principal\":\"$who\"" || bad "audit record does not name $who"
    if [ -n "$code" ]; then
        echo "$last" | grep -qF "\"code\":\"$code\"" || bad "audit record lacks $code"
    fi
    echo "$last" | grep -qF '"policy":' || bad "audit record lacks the policy applied"
    [ "$(sha256sum "$WORK/hr.db" | cut -d' ' -f1)" = "$SUM0" ] || bad "database changed"
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "$out" | head -n 30 | sed 's/^/    /'
    fi
done <"$SRC/cases.txt"

# The audit chain holds together after all of it.
(cd "$WORK" && "$DC" audit verify --config datachat.yaml >/dev/null 2>&1) ||
    { echo "FAIL audit verify"; fail=$((fail + 1)); }
echo "security: $pass of $total cases passed"
[ "$fail" = 0 ] && [ "$total" -ge 40 ]
