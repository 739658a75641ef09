#!/bin/sh
# The example policy config/policies/demo.yaml against a small generated
# demo database: it loads and validates, and its analyst sees region 1 only,
# masked emails, no payments.  Usage: demo_policy.sh DATACHAT DEMO_GEN SRC WORK
set -u
DC=$1 GEN=$2 SRC=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK/policies" || exit 1
"$GEN" --out "$WORK/demo.db" --scale 0.02 --force >/dev/null || exit 1
cp "$SRC/config/policies/demo.yaml" "$WORK/policies/" || exit 1
printf 'version: 1\ndatabases:\n  demo: { connector: sqlite, path: demo.db }\npipeline:\n  entry: reply\n  stages:\n    reply:\n      use: answer\naudit:\n  path: audit.jsonl\n  fsync: never\npolicies: policies/*.yaml\ndefault_principal: local\n' >"$WORK/c.yaml"
fail=0
check() { # expected-exit description command...
    want=$1 what=$2
    shift 2
    out=$(cd "$WORK" && "$@" 2>&1)
    rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL $what: exit $rc, wanted $want"; echo "$out" | head -n 20; fail=1
    fi
    LAST=$out
}
check 0 "local reads everything" "$DC" sql --config c.yaml "SELECT count(*) FROM payments"
check 0 "analyst sees region 1 only" "$DC" sql --json --config c.yaml --as analyst \
    "SELECT count(*) AS n FROM customers WHERE region_id <> 1"
echo "$LAST" | grep -q '^ *0$' || echo "$LAST" | grep -q '\[ *0 *\]' ||
    echo "$LAST" | tr -d ' \n' | grep -q '"rows":\[\[0\]\]' || { echo "FAIL filter: $LAST"; fail=1; }
check 0 "analyst's emails are masked" "$DC" sql --config c.yaml --as analyst \
    "SELECT email FROM customers LIMIT 5"
echo "$LAST" | grep -q '\*\*\*@' || { echo "FAIL mask: $LAST"; fail=1; }
check 3 "analyst may not read payments" "$DC" sql --config c.yaml --as analyst "SELECT * FROM payments"
echo "$LAST" | grep -q E-POLICY-TABLE-DENIED || { echo "FAIL code: $LAST"; fail=1; }
check 0 "explain lists the rules" "$DC" gate explain --config c.yaml --as analyst "SELECT 1"
echo "$LAST" | grep -q "customers: rows where" || { echo "FAIL explain: $LAST"; fail=1; }
[ $fail = 0 ] && echo "demo policy: ok"
exit $fail
