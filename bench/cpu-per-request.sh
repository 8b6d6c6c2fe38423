#!/usr/bin/env bash
# Server CPU time per 1 KiB HTTP/1.1 request for one or more Meridian binaries, run back to back
# in alternating order: a steadier measure than req/s on a host whose neighbours move the numbers
# (the CPU time the server spent, read from /proc, divided by the requests h2load completed).
# Usage: bench/cpu-per-request.sh BIN [BIN...]
# Env:   REQUESTS=300000 ROUNDS=3 CONNECTIONS=64
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
REQUESTS=${REQUESTS:-300000}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
(($# > 0)) || die "usage: $0 BIN [BIN...]"
command -v h2load >/dev/null || scripts/ensure-packages.sh h2load:nghttp2-client
bench_tmpdir meridian-cpu
head -c 1024 /dev/urandom >"$TMP/1k.bin"
tck=$(getconf CLK_TCK)

measure() {  # BIN -> prints "µs per request" and req/s
  local bin=$1 port pid t0 t1 rate
  port=$(free_ports 1)
  MERIDIAN_EVENT_LOOPS=1 MERIDIAN_ACCESS_LOG=off taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" \
    --admin 127.0.0.1:0 --root "$TMP" >"$TMP/meridian.log" 2>&1 &
  pid=$!
  wait_ready meridian "$pid" "http://127.0.0.1:$port/1k.bin" "$TMP/meridian.log"
  taskset -c 1 h2load --h1 -n 20000 -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1  # warm-up
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  rate=$(taskset -c 1 h2load --h1 -n "$REQUESTS" -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" 2>&1 | awk '/^finished/ {print $4}')
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "print(f'{($t1-$t0)/$tck*1e6/$REQUESTS:.2f} {float(\"$rate\"):.0f}')"
}

echo "| round | binary | server CPU µs per request | req/s |"
echo "|---:|---|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    read -r us rate < <(measure "$bin")
    echo "| $r | $bin | $us | $rate |"
  done
done
echo
echo "command: REQUESTS=$REQUESTS ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS $0 $*"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)   h2load --h1 -c $CONNECTIONS on core 1, server on core 0"
