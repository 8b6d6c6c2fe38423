#!/usr/bin/env bash
# WebSocket channels: fan-out across two Meridian instances sharing one Redis, and echo round trips against a
# reference server (the `websockets` library's own asyncio server with the same channel semantics,
# bench/ws_reference.py). The load generator is bench/ws_load.py: a raw RFC 6455 client on one epoll loop in one
# process, on core 1 with redis-server; every server under test is on core 0 (one event loop each).
#   fan-out  SUBSCRIBERS connections to /ws/bench, half on instance A and half on instance B (same config, same
#            Redis); subscriber 0 (on A) also publishes. Each run in FANOUT_RUNS is RATE:MESSAGES (RATE max: as fast
#            as a window of 20 messages in flight allows). Each message carries its send time (CLOCK_MONOTONIC, one
#            clock for the whole machine); a delivery's latency is receive time - send time at the client's recv().
#            deliveries/s = distinct messages received by all subscribers / (first send .. last delivery).
#            The reference server (one process, no cluster) gets the same load on one instance as a yardstick.
#   echo     a connection on its own channel (/ws/echo-PID-I) sends a message and waits for its copy: ECHO_N
#            sequential round trips on one connection, then ECHO_CONNS connections each doing ECHO_COUNT; against
#            Meridian without redis: (the local path), Meridian with Redis (publish = EVALSHA, back by PSUBSCRIBE), and
#            the reference. Each after ECHO_WARMUP discarded round trips per connection.
# Only a failure (a server dies, a handshake is refused, the load generator breaks) exits non-zero; lost or
# duplicated messages and the ratios are printed.
# Usage: bench/websocket.sh [--build]
# Env:   SUBSCRIBERS=1000 FANOUT_RUNS="50:500 200:2000 max:2000" FANOUT_REFERENCE=1 SIZE=64 ECHO_N=5000
#        ECHO_CONNS=50 ECHO_COUNT=2000 ECHO_WARMUP=200 PYTHON=.build/test-venv/bin/python3 MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-1000}
FANOUT_RUNS=${FANOUT_RUNS:-"50:500 200:2000 max:2000"}
FANOUT_REFERENCE=${FANOUT_REFERENCE:-1}
SIZE=${SIZE:-64}
ECHO_N=${ECHO_N:-5000}
ECHO_CONNS=${ECHO_CONNS:-50}
ECHO_COUNT=${ECHO_COUNT:-2000}
ECHO_WARMUP=${ECHO_WARMUP:-200}
PY=${PYTHON:-$ROOT/.build/test-venv/bin/python3}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
ONLY='' bench_args "$@"  # only --build
for v in SUBSCRIBERS ECHO_N ECHO_CONNS ECHO_COUNT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $ECHO_WARMUP =~ ^[0-9]+$ ]] || die "ECHO_WARMUP must be a whole number, got '$ECHO_WARMUP'"
[[ $SIZE =~ ^[0-9]+$ ]] && ((SIZE >= 28 && SIZE <= 125)) || die "SIZE must be 28..125 bytes (sequence + timestamp), got '$SIZE'"
for r in $FANOUT_RUNS; do
  [[ $r =~ ^([1-9][0-9]*|max):[1-9][0-9]*$ ]] || die "FANOUT_RUNS takes RATE:MESSAGES (RATE a number or max), got '$r'"
done
(($(nproc) >= 2)) || die "needs at least 2 cores"
((SUBSCRIBERS >= 2)) || die "SUBSCRIBERS must be at least 2 (one per instance)"

# --- 1. tools and binary ------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need=(redis-server redis-cli taskset curl python3) pkgs=(redis-server redis-tools util-linux curl python3)
ensure_tools
[[ -x $PY ]] || die "no python at $PY (run scripts/test.sh once to make .build/test-venv, or set PYTHON)"
WS_VERSION=$("$PY" -c 'import websockets; print(websockets.__version__)' 2>/dev/null) \
  || die "$PY has no websockets library (the reference server needs it; scripts/test.sh installs it)"
meridian_binary "$BUILD"
bench_tmpdir meridian-wsbench
# 1,000 subscribers plus their server ends: well past a default 1024 limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 2 * SUBSCRIBERS + 200)) || die "open-file limit $(ulimit -n) is too low for $SUBSCRIBERS subscribers"
read -r REDIS_PORT A_PORT A_ADMIN B_PORT B_ADMIN L_PORT L_ADMIN REF_PORT < <(free_ports 8)
declare -A PID LOGF

fail() {  # fail MESSAGE: the last lines of every server log, then die
  local n
  for n in "${!LOGF[@]}"; do echo "--- last 20 lines of $n (${LOGF[$n]}):" >&2; tail -20 "${LOGF[$n]}" >&2 || true; done
  die "$1"
}

# --- 2. servers: redis-server on core 1 (with the client), everything under test on core 0 --------------
start_redis 1 "$REDIS_PORT"
PID[redis]=$REDIS_PID LOGF[redis]=$TMP/redis.log

meridian_config() {  # meridian_config PORT ADMIN WITH_REDIS(0/1)
  cat <<EOF
server: {event_loops: 1}
lifecycle: {drain_delay: 0s}
listeners: [{name: http, address: "127.0.0.1:$1"}]
admin: {address: "127.0.0.1:$2"}
EOF
  if (($3)); then echo "redis: {url: \"redis://127.0.0.1:$REDIS_PORT\", key_prefix: bench}"; fi
  cat <<EOF
channels: {history: 0}
telemetry: {access_log: {enabled: false}}
hosts:
  - default: true
    routes:
      - match: {path: /ws/:channel}
        websocket: {deflate: false, queue_messages: 100000, queue_size: 256MiB}
EOF
}
start_meridian() {  # start_meridian NAME PORT ADMIN WITH_REDIS
  local name=$1
  meridian_config "$2" "$3" "$4" >"$TMP/$name.yaml"
  "$BIN" validate "$TMP/$name.yaml" >"$TMP/$name-validate.txt" 2>&1 \
    || die "meridian rejected $TMP/$name.yaml (a binary without websocket channels?): $(cat "$TMP/$name-validate.txt")"
  MERIDIAN_ACCESS_LOG=off taskset -c 0 "$BIN" serve --config "$TMP/$name.yaml" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!) PID[$name]=$! LOGF[$name]=$TMP/$name.log
  wait_ready "$name" "$!" "http://127.0.0.1:$3/readyz" "$TMP/$name.log"
}
start_meridian meridian-a "$A_PORT" "$A_ADMIN" 1
start_meridian meridian-local "$L_PORT" "$L_ADMIN" 0

taskset -c 0 "$PY" "$ROOT/bench/ws_reference.py" 127.0.0.1 "$REF_PORT" >"$TMP/reference.log" 2>&1 &
PIDS+=($!) PID[reference]=$! LOGF[reference]=$TMP/reference.log
for ((i = 0; i < 100; i++)); do
  grep -q '^ready' "$TMP/reference.log" && break
  kill -0 "${PID[reference]}" 2>/dev/null || fail "the reference server exited during startup"
  sleep 0.1
done
grep -q '^ready' "$TMP/reference.log" || fail "the reference server did not start listening in 10s"

# --- 3. runs -----------------------------------------------------------------------------------------
now() { date +%s.%N; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }  # field LINE KEY
alive() { local n; for n in "$@"; do kill -0 "${PID[$n]}" 2>/dev/null || fail "$n died (during $RUN)"; done; }
load() {  # load OUTFILE ARGS...: runs ws_load.py on core 1; its key=value line in OUTFILE
  local out=$1; shift
  taskset -c 1 "$PY" "$ROOT/bench/ws_load.py" "$@" --size "$SIZE" >"$out" 2>"$out.err" \
    || fail "ws_load.py failed during $RUN: $(tail -5 "$out.err")"
  [[ -s $out ]] || fail "ws_load.py printed nothing during $RUN: $(tail -5 "$out.err")"
}
declare -A ECHO FAN
WARN=()
START=$(now)

# echo KEY SERVER PORT WITH_REDIS
echo_runs() {
  local key=$1 name=$2 port=$3 pids=(--pid "server=${PID[$2]}")
  if (($4)); then pids+=(--pid "redis=${PID[redis]}"); fi
  RUN="echo $key sequential"; log "$RUN: $ECHO_N round trips on 1 connection"
  load "$TMP/echo-$key-1.txt" echo --server "127.0.0.1:$port" --connections 1 --count "$ECHO_N" --warmup "$ECHO_WARMUP" "${pids[@]}"
  alive "$name"; ECHO[$key:1]=$(cat "$TMP/echo-$key-1.txt")
  RUN="echo $key concurrent"; log "$RUN: $ECHO_CONNS connections x $ECHO_COUNT round trips"
  load "$TMP/echo-$key-n.txt" echo --server "127.0.0.1:$port" --connections "$ECHO_CONNS" --count "$ECHO_COUNT" \
    --warmup "$ECHO_WARMUP" "${pids[@]}"
  alive "$name"; ECHO[$key:n]=$(cat "$TMP/echo-$key-n.txt")
}
echo_runs local meridian-local "$L_PORT" 0
echo_runs redis meridian-a "$A_PORT" 1
echo_runs reference reference "$REF_PORT" 0

# Fan-out: instance B joins now (during the echo runs it would only have heard A's publishes through Redis).
start_meridian meridian-b "$B_PORT" "$B_ADMIN" 1
fanout() {  # fanout KEY RATE MESSAGES SERVER_ARGS...
  local key=$1 rate=$2 messages=$3; shift 3
  local r=$rate
  if [[ $r == max ]]; then r=0; fi
  RUN="fan-out $key"; log "$RUN: $SUBSCRIBERS subscribers, $messages messages at $rate/s"
  load "$TMP/fanout-$key.txt" fanout --subscribers "$SUBSCRIBERS" --messages "$messages" --rate "$r" --window 20 "$@"
  FAN[$key]=$(cat "$TMP/fanout-$key.txt")
}
FKEYS=()
for run in $FANOUT_RUNS; do
  rate=${run%%:*} messages=${run#*:}
  fanout "meridian:$run" "$rate" "$messages" --servers "127.0.0.1:$A_PORT" "127.0.0.1:$B_PORT" \
    --pid "a=${PID[meridian-a]}" --pid "b=${PID[meridian-b]}" --pid "redis=${PID[redis]}"
  alive meridian-a meridian-b redis
  FKEYS+=("meridian:$run")
done
if ((FANOUT_REFERENCE)); then
  for run in $FANOUT_RUNS; do
    [[ $run == max:* ]] && continue
    fanout "reference:$run" "${run%%:*}" "${run#*:}" --servers "127.0.0.1:$REF_PORT" --pid "a=${PID[reference]}"
    alive reference
    FKEYS+=("reference:$run")
  done
fi

# --- 4. report --------------------------------------------------------------------------------------------
metric() {  # metric ADMIN NAME_WITH_LABELS: the sample's value (0 when absent)
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m " ") == 1 { v = $NF } END { print v + 0 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "command: SUBSCRIBERS=$SUBSCRIBERS FANOUT_RUNS=\"$FANOUT_RUNS\" FANOUT_REFERENCE=$FANOUT_REFERENCE SIZE=$SIZE ECHO_N=$ECHO_N ECHO_CONNS=$ECHO_CONNS ECHO_COUNT=$ECHO_COUNT ECHO_WARMUP=$ECHO_WARMUP MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*   (runs took $(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s)"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')   nproc: $(nproc)"
echo "cores: every server under test on core 0 (meridian A and B, the no-redis meridian, the reference; one event loop / one"
echo "  asyncio loop each); bench/ws_load.py (one process) and redis-server on core 1"
echo "meridian: $("$BIN" version 2>&1 || echo unknown); reference: websockets $WS_VERSION server (bench/ws_reference.py, $("$PY" -V 2>&1));"
echo "  redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2); meridian websocket route: deflate off, queue_messages 100000,"
echo "  queue_size 256MiB; channels.history 0; messages: $SIZE-byte text frames"
echo
echo "Fan-out: $SUBSCRIBERS subscribers to one channel, one publisher (subscriber 0, on A); meridian: half on A, half on B (one"
echo "Redis); reference: all on its one process. Latency = receive - send, over every first copy received."
echo
echo "| server | rate msg/s | messages | sent | deliveries/s | p50 ms | p99 ms | max ms | lost | duplicates | out of order | closed | CPU % A / B / redis / client |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for key in "${FKEYS[@]}"; do
  l=${FAN[$key]} s=${key%%:*} run=${key#*:}
  if [[ $s == meridian ]]; then
    s="meridian A+B" cpu="$(field "$l" cpu_a) / $(field "$l" cpu_b) / $(field "$l" cpu_redis) / $(field "$l" cpu_client)"
  else
    cpu="$(field "$l" cpu_a) / - / - / $(field "$l" cpu_client)"
  fi
  rate=${run%%:*}
  if [[ $rate == max ]]; then rate="max ($(field "$l" publish_per_s))"; fi
  echo "| $s | $rate | ${run#*:} | $(field "$l" sent) | $(field "$l" deliveries_per_s) | $(field "$l" p50_ms) | $(field "$l" p99_ms) |" \
    "$(field "$l" max_ms) | $(field "$l" lost) | $(field "$l" duplicates) | $(field "$l" gaps) | $(field "$l" closed) | $cpu |"
  if (($(field "$l" lost) > 0)); then WARN+=("fan-out $key: $(field "$l" lost) of $(field "$l" expected) deliveries lost"); fi
  if (($(field "$l" duplicates) > 0)); then WARN+=("fan-out $key: $(field "$l" duplicates) duplicate deliveries"); fi
  if (($(field "$l" closed) > 0)); then
    WARN+=("fan-out $key: $(field "$l" closed) connections closed by the server (codes $(field "$l" close_codes))")
  fi
done
echo
echo "per instance (subscribers / distinct messages / duplicates / latency):"
for key in "${FKEYS[@]}"; do
  [[ $key == meridian:* ]] || continue
  echo "  ${key#*:}: $(field "${FAN[$key]}" split | sed "s#127.0.0.1:$A_PORT#A#; s#127.0.0.1:$B_PORT#B#; s#,#;  #")"
done
echo
echo "Echo round trips (a connection alone on its channel; its message comes back to it):"
echo
echo "| case | server | round trips/s | p50 ms | p99 ms | max ms | server CPU % | redis CPU % | client CPU % |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
declare -A ENAME=([local]="meridian (no redis)" [redis]="meridian + redis" [reference]="reference (websockets)")
for c in 1 n; do
  label="sequential, 1 conn x $ECHO_N"
  if [[ $c == n ]]; then label="$ECHO_CONNS conns x $ECHO_COUNT"; fi
  for key in local redis reference; do
    l=${ECHO[$key:$c]} rc=-
    if [[ $key == redis ]]; then rc=$(field "$l" cpu_redis); fi
    echo "| $label | ${ENAME[$key]} | $(field "$l" rt_per_s) | $(field "$l" p50_ms) | $(field "$l" p99_ms) | $(field "$l" max_ms) |" \
      "$(field "$l" cpu_server) | $rc | $(field "$l" cpu_client) |"
    (($(field "$l" round_trips) == $(field "$l" expected))) \
      || WARN+=("echo $key ($label): $(field "$l" round_trips) of $(field "$l" expected) round trips finished")
    (($(field "$l" gaps) + $(field "$l" closed) == 0)) \
      || WARN+=("echo $key ($label): $(field "$l" gaps) unexpected messages, $(field "$l" closed) closed (codes $(field "$l" close_codes))")
  done
done
echo
for c in 1 n; do
  label="sequential"
  if [[ $c == n ]]; then label="$ECHO_CONNS conns"; fi
  ref=${ECHO[reference:$c]}
  for key in local redis; do
    l=${ECHO[$key:$c]}
    echo "ratio echo $label, ${ENAME[$key]} / reference: round trips/s $(ratio "$(field "$l" rt_per_s)" "$(field "$ref" rt_per_s)");" \
      "p50 $(field "$l" p50_ms) vs $(field "$ref" p50_ms) ms; p99 $(field "$l" p99_ms) vs $(field "$ref" p99_ms) ms"
  done
done
for run in $FANOUT_RUNS; do
  [[ -n ${FAN[reference:$run]:-} ]] || continue
  m=${FAN[meridian:$run]} ref=${FAN[reference:$run]}
  echo "ratio fan-out $run, meridian A+B / reference: deliveries/s $(ratio "$(field "$m" deliveries_per_s)" "$(field "$ref" deliveries_per_s)");" \
    "p50 $(field "$m" p50_ms) vs $(field "$ref" p50_ms) ms; p99 $(field "$m" p99_ms) vs $(field "$ref" p99_ms) ms"
done
echo
# What Meridian counted: publishes that fell back to local delivery (a Redis call failed or timed out, which also
# duplicates a message when Redis did run it), slow-consumer drops/closes, Redis command outcomes.
for n in meridian-a meridian-b meridian-local; do
  case $n in meridian-a) a=$A_ADMIN ;; meridian-b) a=$B_ADMIN ;; *) a=$L_ADMIN ;; esac
  route='route="/ws/:channel",protocol="websocket"'
  echo "$n: published cluster $(metric "$a" 'meridian_channel_published_total{scope="cluster"}')," \
    "instance-only $(metric "$a" 'meridian_channel_published_total{scope="instance"}');" \
    "redis commands timeout $(metric "$a" 'meridian_redis_commands_total{result="timeout"}')," \
    "error $(metric "$a" 'meridian_redis_commands_total{result="error"}');" \
    "dropped $(metric "$a" "meridian_channel_dropped_messages_total{$route}")," \
    "closed slow $(metric "$a" "meridian_channel_closed_total{$route,reason=\"slow\"}")," \
    "protocol $(metric "$a" "meridian_channel_closed_total{$route,reason=\"protocol\"}")"
  n_err=$(grep -cE '"level":"(error|warning|critical)"' "${LOGF[$n]}" || true)
  if ((n_err)); then
    WARN+=("$n logged $n_err warning/error lines; the last: $(grep -E '"level":"(error|warning|critical)"' "${LOGF[$n]}" | tail -1)")
  fi
done
echo
echo "Latencies are read at the client's recv(): time the one-process client spent busy elsewhere counts. A client near"
echo "100% (last CPU column) means the load generator, not the server, held the numbers back; meridian A and B share core 0."
for w in "${WARN[@]}"; do echo "warning: $w"; done
exit 0
