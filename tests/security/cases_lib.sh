# Sourced by run.sh (SQLite) and pg_run.sh (PostgreSQL): the case format,
# the canaries and the checks every case gets. The runner sets DC, WORK
# and the config in $WORK/datachat.yaml, and defines state_sum (prints a
# digest of the database: any write changes it). run_cases FILE then runs
# every case of FILE and leaves pass, fail and total set.
#
# One case per line:  name | principal | expect | checks | SQL
#   expect  ok, refused:CODE (exit 3) or error:CODE (exit 1)
#   checks  rows=N, has=TEXT, trunc, or - for none
# Every case also asserts: no canary of that principal in the output, one
# new audit record naming the principal (and the code when refused, and the
# policy applied), and the database unchanged.

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

# field N LINE: the N-th |-separated field (N- for the rest); printf, not
# echo: a shell's echo would expand the backslashes of U&"\0065...".
field() {
    printf '%s\n' "$2" | cut -d'|' -f"$1"
}

run_cases() {
    pass=0 fail=0 total=0
    SUM0=$(state_sum) || { echo "FAIL: checksum"; exit 1; }
    while IFS= read -r line; do
        case $line in '#'* | '') continue ;; esac
        total=$((total + 1))
        name=$(field 1 "$line" | tr -d ' ')
        who=$(field 2 "$line" | tr -d ' ')
        expect=$(field 3 "$line" | tr -d ' ')
        checks=$(field 4 "$line" | sed 's/^ *//; s/ *$//')
        sql=$(field 5- "$line" | sed 's/^ *//')
        ok=1
        before=$(wc -l 2>/dev/null <"$WORK/audit.jsonl" || echo 0)
        out=$(cd "$WORK" && timeout 60 "$DC" sql --json --config datachat.yaml --as "$who" "$sql" 2>&1)
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
        # The request's own SQL is echoed back (as sent and as rewritten) and
        # timings may hold a canary's digits; everything else must be clean.
        body=$(printf '%s\n' "$out" | grep -vE '^  "sql": |"sql_run": |"(total_us|stages_us|us)": [0-9]+' |
            sed -E 's/ in [0-9]+ us//g; s/[0-9]+(\.[0-9]+)? ms//g')
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
        [ "$(state_sum)" = "$SUM0" ] || bad "the database changed"
        if [ $ok = 1 ]; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "$out" | head -n 30 | sed 's/^/    /'
        fi
    done <"$1"
}

# The audit chain holds together after all of it.
verify_audit() {
    (cd "$WORK" && "$DC" audit verify --config datachat.yaml >/dev/null 2>&1) ||
        { echo "FAIL audit verify"; fail=$((fail + 1)); }
}
