#!/usr/bin/env bash
# End-to-end telemetry check against the real binary, run by scripts/test.sh after the Swift tests:
# starts an OTLP receiver (Tests/tools/otlp_receiver.py) and `meridian serve` on random loopback
# ports, with an upstream cluster (a second `meridian serve` with static files and tracing of its
# own, plus an endpoint where nothing listens: retries, ejections, breaker transitions) behind a
# proxy route, puts it under load, then
#   1. the status page in headless Chromium renders live data (scripts/status-page-check.sh) and
#      its screenshot is written to $STATUS_PNG (default: a temp file; docs/status.png to refresh it),
#   2. every Grafana panel query returns data from a real Prometheus scraping it
#      (scripts/dashboards-check.sh) — with Redis behind the shared breakers and a global limit,
#   3. spans reached the receiver (SERVER -> CLIENT -> the upstream's SERVER, one trace), and the
#      access log survives rotation with SIGUSR1.
# Usage: scripts/telemetry-check.sh [MERIDIAN_BINARY]   (default .build/debug/meridian)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
bin=${1:-$root/.build/debug/meridian}
[[ -x $bin ]] || { echo "telemetry-check: no meridian binary at $bin" >&2; exit 1; }
note() { echo "telemetry-check: $*"; }
fail() { echo "telemetry-check: FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# port, admin: the instance checked; backend: its upstream; dead: an endpoint where nothing listens;
# redis: the Redis its shared breakers and global limit use.
read -r port admin backend dead redis < <(python3 -c '
import socket
s = [socket.socket() for _ in range(5)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

python3 Tests/tools/otlp_receiver.py --out "$tmp/spans.jsonl" >"$tmp/receiver.out" 2>"$tmp/receiver.err" &
pids+=($!)
for _ in $(seq 50); do grep -q '^PORT ' "$tmp/receiver.out" 2>/dev/null && break; sleep 0.1; done
otlp=$(awk '/^PORT /{print $2}' "$tmp/receiver.out")
[[ -n $otlp ]] || fail "the OTLP receiver did not start: $(cat "$tmp/receiver.err")"

redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis" PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done

mkdir -p "$tmp/public"
echo "hello" >"$tmp/public/index.html"
cat >"$tmp/backend.yaml" <<EOF
listeners: [{name: http, address: "127.0.0.1:$backend"}]
admin: {enabled: false}
telemetry:
  service_name: backend
  tracing: {endpoint: "http://127.0.0.1:$otlp/v1/traces", batch_delay: 200ms}
  access_log: {enabled: false}
hosts:
  - default: true
    routes:
      - match: {path: /fail}
        respond: {status: 503, body: "backend down\n"}
      - match: {prefix: /}
        static: {root: "$tmp/public"}
EOF
"$bin" serve --config "$tmp/backend.yaml" >"$tmp/backend.log" 2>&1 &
pids+=($!)
cat >"$tmp/meridian.yaml" <<EOF
listeners: [{name: http, address: "127.0.0.1:$port"}]
admin: {address: "127.0.0.1:$admin"}
telemetry:
  tracing: {endpoint: "http://127.0.0.1:$otlp/v1/traces", ratio: 0.2, batch_delay: 200ms}
  access_log: {path: "$tmp/access.log"}
redis: {url: "redis://127.0.0.1:$redis"}
upstreams:
  - name: backend
    endpoints: ["127.0.0.1:$backend", "127.0.0.1:$dead"]
    outlier_detection: {consecutive_gateway_failures: 3, base_ejection: 2s}
    # One instance here: let it alone open the shared breaker, so the shared families have data. Only the dead
    # endpoint's: the backend fails half the proxied requests on purpose (/fail), and at the default ratio (0.5) its
    # breaker was open nearly all the time, so almost no proxied request reached it and the trace check below found
    # 0 to 3 proxied traces among ~2,400 spans (686 of 690 sampled /proxy/ requests were breaker_open 503s).
    circuit_breaker: {minimum_requests: 5, min_reporting_instances: 1, failure_ratio: 0.9}
hosts:
  - default: true
    routes:
      - match: {path: /limited}
        rate_limit: {name: limited, rate: 5, per: 1s, key: route, scope: global}
        respond: {status: 200, body: "ok\n"}
      - match: {prefix: /proxy/}
        proxy: {upstream: backend, strip_prefix: /proxy}
      - match: {prefix: /cached/}
        proxy: {upstream: backend, strip_prefix: /cached}
        cache: {default_ttl: 2s}
      - match: {path: /api/:id}
        respond: {status: 200, body: "api\n"}
      - match: {path: /fail}
        respond: {status: 503, body: "down\n"}
      - match: {path: /ws/:channel}
        websocket: {}
      - match: {path: /events/:channel}
        sse: {}
      - match: {prefix: /}
        static: {root: "$tmp/public"}
EOF
"$bin" serve --config "$tmp/meridian.yaml" >"$tmp/meridian.log" 2>&1 &
mpid=$!
pids+=($mpid)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" || fail "meridian did not become ready: $(tail -5 "$tmp/meridian.log")"
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$backend/" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$port/proxy/" || fail "the proxy route does not reach the backend: $(tail -5 "$tmp/backend.log")"

# Load for the whole check: a mix of routes and statuses, a few connections.
load() {
  local end=$((SECONDS + 60))
  while ((SECONDS < end)); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" "http://127.0.0.1:$port/api/$RANDOM" \
      "http://127.0.0.1:$port/fail" "http://127.0.0.1:$port/missing" \
      "http://127.0.0.1:$port/proxy/" "http://127.0.0.1:$port/proxy/fail" "http://127.0.0.1:$port/proxy/missing" \
      "http://127.0.0.1:$port/limited" "http://127.0.0.1:$port/cached/" "http://127.0.0.1:$port/cached/fail" >/dev/null || true
    curl -s -o /dev/null -X POST --data "tick $SECONDS" "http://127.0.0.1:$admin/publish/check" || true
  done
}
# A subscriber on the channel the load publishes to, for the channel panels.
curl -sN -o /dev/null --max-time 90 "http://127.0.0.1:$port/events/check" & pids+=($!)
for _ in 1 2 3; do load & pids+=($!); done
# A few proxied requests under a sampled parent (parentbased sampler: always recorded), so the cross-instance trace
# check below never depends on the 20 % ratio's luck.
for i in 1 2 3 4 5; do
  curl -s -o /dev/null -H "traceparent: 00-$(printf '%032x' $((RANDOM * 65536 + i)))-$(printf '%016x' $((RANDOM + 1)))-01" \
    "http://127.0.0.1:$port/proxy/" || true
done
sleep 2

scripts/status-page-check.sh "http://127.0.0.1:$admin" "${STATUS_PNG:-$tmp/status.png}"
scripts/dashboards-check.sh "127.0.0.1:$admin"

spans=$(wc -l <"$tmp/spans.jsonl")
((spans > 0)) || fail "no spans reached the OTLP receiver"
grep -q '"kind": "SERVER"' "$tmp/spans.jsonl" || fail "no SERVER span among $spans spans"
# A proxied request is one trace across both instances: SERVER (meridian) -> CLIENT (meridian, a
# try) -> SERVER (backend, continuing the traceparent the try sent).
python3 - "$tmp/spans.jsonl" <<'PY' || fail "no proxied trace SERVER -> CLIENT -> upstream SERVER among $spans spans"
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by_id = {(s["trace_id"], s["span_id"]): s for s in spans}
chains = 0
for up in spans:
    if up["kind"] != "SERVER" or up["resource"].get("service.name") != "backend":
        continue
    client = by_id.get((up["trace_id"], up["parent_span_id"]))
    if not client or client["kind"] != "CLIENT" or client["resource"].get("service.name") != "meridian":
        continue
    server = by_id.get((client["trace_id"], client["parent_span_id"]))
    if server and server["kind"] == "SERVER" and server["resource"].get("service.name") == "meridian":
        chains += 1
backend = sum(1 for s in spans if s["kind"] == "SERVER" and s["resource"].get("service.name") == "backend")
print(f"telemetry-check: {chains} proxied trace(s) SERVER -> CLIENT -> upstream SERVER ({backend} upstream SERVER spans)")
sys.exit(0 if chains else 1)
PY
note "$spans spans received"

mv "$tmp/access.log" "$tmp/access.log.1"
kill -USR1 "$mpid"
for _ in $(seq 50); do [[ -s $tmp/access.log ]] && break; sleep 0.1; done
[[ -s $tmp/access.log ]] || fail "no new access.log after SIGUSR1"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/access.log" \
  || fail "access.log has a line that is not JSON"
note "access log: $(wc -l <"$tmp/access.log.1") lines before rotation, new file after SIGUSR1"
note OK
