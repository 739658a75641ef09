#!/usr/bin/env bash
# GET /metrics parsed by Prometheus's own checker (promtool check metrics,
# Debian package prometheus) after traffic on every kind of route.
set -u
. "$(dirname "$0")/server_lib.sh"
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed (scripts/setup)"; exit 77; }

cfg=$tmp/datachat.yaml
write_config "$cfg"
start_server "$cfg"
u="http://127.0.0.1:$PORT"
A=(-H "Authorization: Bearer $TOKEN")
curl -s -o /dev/null "$u/health"
curl -s -o /dev/null "$u/nope"
curl -s -o /dev/null -X PUT "$u/health"
curl -s -o /dev/null "$u/api/v1/chat" -d '{"message":"list tables"}'
curl -s -o /dev/null "${A[@]}" "$u/api/v1/chat" -d '{"message":"list tables"}'
curl -s -o /dev/null "${A[@]}" "$u/api/v1/chat" -d '{"message":"drop table orders"}'
curl -s -o /dev/null "${A[@]}" "$u/api/v1/chat" -d '{"message":'
curl -s -o /dev/null -X 'BREW' "$u/health"
curl -s "$u/metrics" >"$tmp/metrics"
if ! promtool check metrics <"$tmp/metrics" >"$tmp/promtool.out" 2>&1; then
    echo "FAIL: promtool check metrics:"
    cat "$tmp/promtool.out"
    cat "$tmp/metrics"
    exit 1
fi
# promtool prints lint findings (naming, help text) yet exits 0 for some.
if [ -s "$tmp/promtool.out" ]; then
    echo "FAIL: promtool lint findings:"
    cat "$tmp/promtool.out"
    exit 1
fi
for want in 'route="/api/v1/chat",status="200"} 1' 'route="/api/v1/chat",status="401"} 1' \
    'route="/api/v1/chat",status="403"} 1' 'route="unmatched",status="404"} 1' \
    'method="OTHER",route="unmatched",status="405"} 1' 'datachat_gate_refusals_total 1' \
    'datachat_audit_records_total 1' 'datachat_http_request_duration_seconds_count 8'; do
    grep -qF "$want" "$tmp/metrics" || { echo "FAIL: /metrics lacks '$want':"; cat "$tmp/metrics"; exit 1; }
done
echo "server_metrics: ok"
