#!/usr/bin/env bash
# What a catalog question loads: the HTTP libraries (libcurl,
# libmicrohttpd and the TLS stack behind them) and the tool plugins stay out
# of commands that never use them; `serve`, `tools list` and an HTTP tool
# still get them when they need them. Reads the dynamic loader's own report
# (LD_DEBUG=files), so a change that links them again fails here, not only
# in a benchmark.
set -u
SRC=$2
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

"$GEN" --out "$T/demo.db" >/dev/null || { echo "FAIL: demo generator"; exit 1; }
cd "$T" || exit 1

# loaded CMD...: the files the loader opened while CMD ran, one per line.
loaded() {
    LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    cat "$T"/ld.* 2>/dev/null | sed -n 's/.*file=\([^ ]*\) .*\[0\];  *\(needed\|dynamically loaded\).*/\1/p' |
        sort -u >"$T/libs"
    rm -f "$T"/ld.*
    return $rc
}

loaded "$DC" --db "$T/demo.db" query "list the tables"
rc=$?
[ "$rc" -eq 0 ] && ok || bad "query exited $rc: $(head -3 "$T/err")"
[ -s "$T/libs" ] && ok || bad "LD_DEBUG=files reported nothing; cannot check what was loaded"
grep -q 'libsqlite3' "$T/libs" && ok || bad "the check sees no libsqlite3, so it sees nothing"
for lib in libcurl libmicrohttpd libgnutls libssl libkrb5 libldap tool-; do
    if grep -q "$lib" "$T/libs"; then bad "query loaded $lib: $(grep "$lib" "$T/libs" | head -1)"
    else ok; fi
done

loaded "$DC" --db "$T/demo.db" sql "SELECT count(*) FROM orders"
rc=$?
[ "$rc" -eq 0 ] && ok || bad "sql exited $rc: $(head -3 "$T/err")"
grep -q 'libcurl\|libmicrohttpd\|tool-' "$T/libs" && bad "sql loaded $(grep 'libcurl\|libmicrohttpd\|tool-' "$T/libs" | head -1)" || ok

# Commands that need them still get them.
loaded "$DC" --db "$T/demo.db" tools list
rc=$?
[ "$rc" -eq 0 ] && ok || bad "tools list exited $rc: $(head -3 "$T/err")"
grep -q 'tool-' "$T/libs" && ok || bad "tools list did not load the tool plugins"
grep -q 'list_tables' "$T/out" && ok || bad "tools list does not show list_tables"

# The shipped config with its paths pointed here, plus one HTTP tool.
sed -e "s|path: ../var/demo.db|path: $T/demo.db|" -e "s|path: ../var/audit.jsonl|path: $T/audit.jsonl|" \
    -e "s|\.\./var/|$T/var/|g" -e "s|\.\./datapoints|$SRC/datapoints|g" "$SRC/config/datachat.yaml" >"$T/http.yaml"
cat >>"$T/http.yaml" <<YAML
tools:
  weather:
    use: http
    with:
      endpoint: "http://127.0.0.1:9/weather"
      allowed_hosts: ["127.0.0.1"]
YAML
loaded "$DC" --config "$T/http.yaml" tools call weather '{}'
grep -q 'libcurl' "$T/libs" && ok || bad "an http tool call did not load libcurl"
grep -q 'E-HTTP-TOOL-CONNECT' "$T/err" "$T/out" && ok ||
    bad "the http tool to a closed port did not fail with E-HTTP-TOOL-CONNECT: $(head -3 "$T/err")"

finish startup_libs
