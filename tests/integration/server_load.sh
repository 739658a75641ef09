#!/usr/bin/env bash
# The HTTP server under pressure: 200 concurrent clients, a slow client cut
# off by the connection timeout, the per-principal rate limit, and a
# graceful SIGTERM that lets a request in flight finish while refusing new
# connections.
set -u
. "$(dirname "$0")/server_lib.sh"

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

cfg=$tmp/datachat.yaml
write_config "$cfg" "body_bytes: 65536, timeout_s: 2, request_timeout_s: 4, concurrent_requests: 512, requests_per_minute: 100000"
start_server "$cfg"

# 200 clients at once, each with its own connection.
seq 1 200 | xargs -P 200 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -H "Authorization: Bearer $TOKEN" -d '{"message":"list tables","session_id":"c{}"}' \
    "http://127.0.0.1:$PORT/api/v1/chat" >"$tmp/codes"
n200=$(grep -c '^200$' "$tmp/codes")
[ "$n200" = 200 ] && ok || bad "200 concurrent clients: $n200 got 200 ($(sort "$tmp/codes" | uniq -c | tr '\n' ' '))"
curl -s "http://127.0.0.1:$PORT/health" | grep -q '"ok"' && ok || bad "server unhealthy after the burst"

# A slow client: a few header bytes, one at a time, then silence. The
# server must close the connection after server.limits.timeout_s (2 s).
t0=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
for ch in G E T ' ' /; do printf %s "$ch" >&3; sleep 0.3; done
reply=$(timeout 10 cat <&3)
t1=$(date +%s%N)
exec 3<&- 3>&-
ms=$(((t1 - t0) / 1000000))
if [ -z "$reply" ] && [ $ms -ge 1500 ] && [ $ms -lt 9000 ]; then ok; else
    bad "slow client: closed after ${ms} ms with reply '${reply:0:80}'"; fi
curl -s "http://127.0.0.1:$PORT/health" | grep -q '"ok"' && ok || bad "server unhealthy after the slow client"

# A dribbling client: one header byte a second, never idle for the 2 s
# idle timeout, is still closed once server.limits.request_timeout_s (4 s)
# has passed; other clients are served meanwhile.
trap '' PIPE # a write after the server closed must fail, not kill the shell
t0=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&3
closed=0 served=0
for _ in $(seq 1 12); do
    printf a >&3 2>/dev/null || { closed=1; break; }
    curl -s -m 2 "http://127.0.0.1:$PORT/health" | grep -q '"ok"' && served=$((served + 1))
    # EOF (status 1) means the server closed it; a timeout is > 128.
    read -r -t 1 -u 3 _line; rs=$?
    if [ $rs = 1 ] || [ $rs = 0 ]; then closed=1; break; fi
done
t1=$(date +%s%N)
exec 3<&- 3>&-
ms=$(((t1 - t0) / 1000000))
if [ $closed = 1 ] && [ $ms -ge 3500 ] && [ $ms -lt 8000 ]; then ok; else
    bad "dribbling client: closed=$closed after ${ms} ms (want ~4000)"; fi
[ $served -ge 3 ] && ok || bad "only $served other requests served during the dribbling client"
trap - PIPE

# Graceful shutdown: a request whose body is still arriving when SIGTERM
# comes is answered; new connections are refused.
body='{"message":"list tables"}'
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$TOKEN" ${#body} "${body:0:10}" >&3
sleep 0.5
kill -TERM "$SERVER_PID"
sleep 0.5
if curl -s -m 2 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
    bad "a new connection was accepted while draining"; else ok; fi
printf %s "${body:10}" >&3
reply=$(timeout 10 cat <&3)
exec 3<&- 3>&-
case "$reply" in
"HTTP/1.1 200"*"There are 8 tables"*) ok ;;
*) bad "the in-flight request was not answered while draining: '${reply:0:200}'" ;;
esac
for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID"
rc=$?
[ $rc = 0 ] && ok || bad "exit status $rc after draining"

# The rate limit is per principal: alice's fourth request in a minute is
# refused with 429, bob still gets through.
cfg2=$tmp/rate.yaml
write_config "$cfg2" "requests_per_minute: 3"
sed -i "s|$tmp/audit.jsonl|$tmp/audit-rate.jsonl|" "$cfg2"
start_server "$cfg2"
codes=""
for _ in 1 2 3 4; do
    codes="$codes $(curl -s -o "$tmp/rb" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/api/v1/databases")"
done
[ "$codes" = " 200 200 200 429" ] && ok || bad "rate limit: codes$codes"
grep -q '"code":"E-API-RATE"' "$tmp/rb" && ok || bad "429 body: $(cat "$tmp/rb")"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN_BOB" \
    "http://127.0.0.1:$PORT/api/v1/databases")
[ "$c" = 200 ] && ok || bad "bob was limited by alice's requests: $c"

echo "server_load: $pass passed, $failed failed"
[ $failed = 0 ]
