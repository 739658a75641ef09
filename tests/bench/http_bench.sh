#!/usr/bin/env bash
# HTTP API throughput with wrk on loopback: POST /api/v1/chat for a
# catalog question ("list tables", answered from the cached catalog, no
# SQL) against GET /health on the same server in the same run. Prints
# req/s and p99 for both and the ratio chat/health (target >= 0.5).
# Usage: DC_BINARY_DIR=build tests/bench/http_bench.sh [SECONDS] [CONNECTIONS]
set -u
. "$(dirname "$0")/../integration/server_lib.sh"
command -v wrk >/dev/null || { echo "SKIP: wrk is not installed (scripts/setup)"; exit 77; }
secs=${1:-5}
conns=${2:-16}

cfg=$tmp/datachat.yaml
write_config "$cfg" "concurrent_requests: 1024, requests_per_minute: 100000000"
start_server "$cfg"
u="http://127.0.0.1:$PORT"

cat >"$tmp/chat.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"message":"list tables"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
# Warm the catalog cache so both runs measure steady state.
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"message":"list tables"}' "$u/api/v1/chat"

# run NAME URL [wrk args]: prints "NAME req/s p99_ms" from wrk --latency.
run() {
    local name=$1 url=$2
    shift 2
    wrk -t 2 -c "$conns" -d "${secs}s" --latency "$@" "$url" >"$tmp/$name.out" 2>&1
    local rps p99 non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/$name.out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$tmp/$name.out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/$name.out")
    if [ -z "$rps" ] || [ -n "$non2xx" ]; then
        echo "FAIL: wrk on $name: ${non2xx:-no} non-2xx responses"
        cat "$tmp/$name.out"
        exit 1
    fi
    echo "$name $rps $p99"
}
health=$(run health "$u/health") || { echo "$health"; exit 1; }
chat=$(run chat "$u/api/v1/chat" -s "$tmp/chat.lua") || { echo "$chat"; exit 1; }
read -r _ hrps hp99 <<<"$health"
read -r _ crps cp99 <<<"$chat"
ratio=$(awk -v a="$crps" -v b="$hrps" 'BEGIN { printf "%.2f", a / b }')
printf 'GET /health        %10.0f req/s  p99 %8.3f ms\n' "$hrps" "$hp99"
printf 'POST /api/v1/chat  %10.0f req/s  p99 %8.3f ms\n' "$crps" "$cp99"
printf 'chat / health: %sx (target >= 0.5x), %d connections, %ss each\n' "$ratio" "$conns" "$secs"
