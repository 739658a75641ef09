# Checks shared by the LLM shell tests (llm_config.sh, sqlgen_cli.sh);
# sourced after T (a scratch directory) is set. Each check counts a pass or
# prints FAIL with what it saw; the test ends with `llm_lib_summary NAME`.
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
llm_lib_summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
