#!/usr/bin/env bash
# Server CPU time per 1 KiB HTTP/1.1 request for one or more Meridian binaries, run back to back
# in alternating order: a steadier measure than req/s on a host whose neighbours move the numbers
# (the CPU time the server spent, read from /proc, divided by the requests h2load completed).
# TARGET=proxy: each binary proxies the 1 KiB to an nginx upstream serving it from memory (on core 1,
# beside h2load), and the word `nginx` as a BIN measures nginx as that proxy in the same rounds.
# `ceiling` as a BIN (TARGET=proxy) measures bench/nio-proxy-ceiling, the least a SwiftNIO proxy can do per
# request (head found by its blank line, a fixed head upstream, the response's bytes back unchanged): the floor
# under anything built on NIO's channels. Built here on first use (`swift build -c release`, ~2 minutes).
# MODE=counts: instead of time, what the server calls per request, counted by uprobes (`perf probe` on the Swift
# runtime's swift_retain, swift_release, swift_allocObject and its retain slow path incrementSlow, glibc's malloc
# (and tcmalloc's, which the meridian binary links)
# and clock_gettime) over REQUESTS
# requests: the same numbers run after run, so a change worth 1% shows where the time per request does not.
# Needs root and perf (the uprobes slow the server ~10x while counting; REQUESTS=100000 is plenty).
# Usage: bench/cpu-per-request.sh BIN [BIN...]      (BIN may be `nginx` or `ceiling` with TARGET=proxy)
# Env:   REQUESTS=300000 ROUNDS=3 CONNECTIONS=64 TARGET=static|proxy MODE=time|counts
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
REQUESTS=${REQUESTS:-300000}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
TARGET=${TARGET:-static}
MODE=${MODE:-time}
(($# > 0)) || die "usage: $0 BIN [BIN...]"
[[ $TARGET == static || $TARGET == proxy ]] || die "TARGET must be static or proxy, got '$TARGET'"
[[ $MODE == time || $MODE == counts ]] || die "MODE must be time or counts, got '$MODE'"
for bin in "$@"; do
  [[ ($bin == nginx || $bin == ceiling) && $TARGET == proxy ]] && continue
  [[ -x $bin ]] || die "not an executable: $bin (\`nginx\` and \`ceiling\` only with TARGET=proxy)"
done
export PATH="$PATH:/usr/sbin"
command -v h2load >/dev/null || scripts/ensure-packages.sh h2load:nghttp2-client
if [[ $TARGET == proxy ]]; then command -v nginx >/dev/null || scripts/ensure-packages.sh nginx:nginx-light; fi
CEILING="$ROOT/bench/nio-proxy-ceiling"
if [[ $TARGET == proxy && " $* " == *" ceiling "* ]]; then
  swift build -c release --package-path "$CEILING" >&2 || die "building $CEILING failed"
fi
bench_tmpdir meridian-cpu
head -c 1024 /dev/urandom >"$TMP/1k.bin"
tck=$(getconf CLK_TCK)

if [[ $TARGET == proxy ]]; then
  mkdir -p "$TMP/upstream" "$TMP/nginx"
  read -r UP_PORT < <(free_ports 1)
  {
    nginx_upstream_prelude "$TMP/upstream"
    echo "  server { listen 127.0.0.1:$UP_PORT reuseport; root $TMP; }"
    echo "}"
  } >"$TMP/upstream/nginx.conf"
  taskset -c 1 nginx -e "$TMP/upstream/error.log" -c "$TMP/upstream/nginx.conf" -p "$TMP/upstream" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_ready upstream "$!" "http://127.0.0.1:$UP_PORT/1k.bin" "$TMP/upstream/error.log"
fi

# start BIN PORT: the server serving /1k.bin on PORT (itself, or proxied to the upstream); sets SERVER_PID
start() {
  local bin=$1 port=$2
  if [[ $bin == nginx ]]; then
    nginx_proxy_conf "$TMP/nginx" "$UP_PORT" "$CONNECTIONS" "listen 127.0.0.1:$port reuseport;" >"$TMP/nginx/nginx.conf"
    taskset -c 0 nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/server.log" 2>&1 &
  elif [[ $bin == ceiling ]]; then
    taskset -c 0 "$CEILING/.build/release/NIOProxyCeiling" "$port" "$UP_PORT" >"$TMP/server.log" 2>&1 &
  elif [[ $TARGET == proxy ]]; then
    meridian_proxy_yaml "  - {name: http, address: \"127.0.0.1:$port\"}" 0 "$UP_PORT" "$CONNECTIONS" >"$TMP/proxy.yaml"
    MERIDIAN_EVENT_LOOPS=1 MERIDIAN_ACCESS_LOG=off taskset -c 0 "$bin" serve --config "$TMP/proxy.yaml" >"$TMP/server.log" 2>&1 &
  else
    MERIDIAN_EVENT_LOOPS=1 MERIDIAN_ACCESS_LOG=off taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" \
      --admin 127.0.0.1:0 --root "$TMP" >"$TMP/server.log" 2>&1 &
  fi
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
}

measure() {  # BIN: sets US, SS, TS (user, system, total µs per request) and RATE (req/s)
  local bin=$1 port pid u0 s0 u1 s1 rate
  port=$(free_ports 1)
  start "$bin" "$port"
  pid=$SERVER_PID
  wait_ready "$bin" "$pid" "http://127.0.0.1:$port/1k.bin" "$TMP/server.log"
  taskset -c 1 h2load --h1 -n 20000 -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1  # warm-up
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  rate=$(taskset -c 1 h2load --h1 -n "$REQUESTS" -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" 2>&1 | awk '/^finished/ {print $4}')
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  read -r US SS TS RATE < <(python3 -c "
t, n = $tck / 1e6, $REQUESTS
u, s = ($u1 - $u0) / t / n, ($s1 - $s0) / t / n
print(f'{u:.2f} {s:.2f} {u + s:.2f} {float(\"$rate\"):.0f}')")
}

# The uprobes of MODE=counts, on the libraries the servers load (removed on exit).
PROBES=()
add_probe() {  # LIBRARY SYMBOL: sets PROBES+=(event name)
  local out
  out=$(perf probe -q -x "$1" -a "$2" 2>&1) || die "perf probe -x $1 -a $2 failed: $out"
  PROBES+=("probe_$(basename "$1" | sed 's/\.so.*//; s/[^A-Za-z0-9_]/_/g'):$2")
}
if [[ $MODE == counts ]]; then
  command -v perf >/dev/null || scripts/ensure-packages.sh perf:linux-perf
  perf probe -q -d 'probe_libc:*' 2>/dev/null || true
  perf probe -q -d 'probe_libswiftCore:*' 2>/dev/null || true
  perf probe -q -d 'probe_libtcmalloc_minimal:*' 2>/dev/null || true
  libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ && !n++ {print $NF}')
  add_probe "$libc" malloc
  # Meridian links tcmalloc (Sources/meridian/Allocator.swift): its malloc is tcmalloc's, and glibc's counts 0 there.
  tcmalloc=$(ldconfig -p | awk '/libtcmalloc_minimal\.so\.4 .*x86-64/ && !n++ {print $NF}')
  [[ -n $tcmalloc ]] && add_probe "$tcmalloc" tc_malloc  # (malloc's address; probing `malloc` there fails)
  add_probe "$libc" clock_gettime
  swiftcore=""
  for bin in "$@"; do
    [[ $bin == nginx ]] && continue
    [[ $bin == ceiling ]] && bin="$CEILING/.build/release/NIOProxyCeiling"
    swiftcore=$(ldd "$bin" | awk '/libswiftCore\.so/ && !n++ {print $3}')
    [[ -n $swiftcore ]] && break
  done
  [[ -n $swiftcore ]] || die "no libswiftCore.so in ldd of $* (a statically linked runtime cannot be probed)"
  for sym in swift_retain swift_release swift_allocObject; do add_probe "$swiftcore" "$sym"; done
  # The runtime's slow path of a retain (an object with a side table, which a weak reference to it gives): a hidden
  # symbol, probed at its address.
  slow=$(readelf -sW "$swiftcore" | awk '$8 ~ /RefCountInlinednessE1EEEE13incrementSlowES3_j$/ {print $2}')
  if [[ -n $slow ]]; then
    out=$(perf probe -q -x "$swiftcore" -a "incrementSlow=$(printf '0x%x' "0x$slow")" 2>&1) || die "perf probe incrementSlow failed: $out"
    PROBES+=("probe_libswiftCore:incrementSlow")
  fi
  trap 'perf probe -q -d "probe_libc:*" 2>/dev/null; perf probe -q -d "probe_libswiftCore:*" 2>/dev/null
    perf probe -q -d "probe_libtcmalloc_minimal:*" 2>/dev/null; bench_cleanup' EXIT
fi

count() {  # BIN: sets COUNTS (per request, in PROBES' order)
  local bin=$1 port pid events
  port=$(free_ports 1)
  start "$bin" "$port"
  pid=$SERVER_PID
  wait_ready "$bin" "$pid" "http://127.0.0.1:$port/1k.bin" "$TMP/server.log"
  taskset -c 1 h2load --h1 -n 20000 -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1  # warm-up
  events=$(IFS=,; echo "${PROBES[*]}")
  perf stat -x, -e "$events" -p "$pid" -o "$TMP/counts.txt" &
  local stat=$!
  sleep 0.5
  taskset -c 1 h2load --h1 -n "$REQUESTS" -c "$CONNECTIONS" "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1
  kill -INT "$stat"; wait "$stat" 2>/dev/null || true
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  COUNTS=""
  for e in "${PROBES[@]}"; do
    COUNTS+=" | $(awk -F, -v e="$e" -v n="$REQUESTS" '$3 == e {v = $1} END {printf "%.2f", (v == "" || v == "<not counted>" ? 0 : v) / n}' "$TMP/counts.txt")"
  done
}

if [[ $MODE == counts ]]; then
  echo "| server | $(printf '%s | ' "${PROBES[@]#probe_}")"
  echo "|---|$(printf -- '---:|%.0s' "${PROBES[@]}")"
  for bin in "$@"; do
    count "$bin"
    echo "| $bin$COUNTS |"
  done
  echo
  echo "per request, over REQUESTS=$REQUESTS (the server's background timers included: the per-request figures move by"
  echo "a few hundredths between runs)"
else
  echo "| round | server | user µs per request | system µs | total µs | req/s |"
  echo "|---:|---|---:|---:|---:|---:|"
  for r in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do
      measure "$bin"
      echo "| $r | $bin | $US | $SS | $TS | $RATE |"
    done
  done
fi
echo
echo "command: TARGET=$TARGET MODE=$MODE REQUESTS=$REQUESTS ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS $0 $*"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)   h2load --h1 -c $CONNECTIONS on core 1, server on core 0$([[ $TARGET == proxy ]] && echo ", upstream nginx on core 1")"
