#!/usr/bin/env bash
# Telemetry overhead: Meridian serving 1 KiB static files with tracing off, at 1% and at 100%
# sampling (spans exported over OTLP/HTTP to a collector stand-in), and with the access log on.
# Mode 0% (tracing on, nothing sampled) separates the per-request cost from the cost of spans.
# Each mode runs in turn against the same binary, ROUNDS times in alternating order; the table
# shows each mode's median req/s and its ratio to tracing off (run-to-run noise here is ~±5%).
# Usage: bench/telemetry.sh [--build]
# Env:   DURATION=10 CONNECTIONS=64 ROUNDS=3 MODES="off 1% 100% access_log" MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
MODES=${MODES:-"off 1% 100% access_log"}
ROUNDS=${ROUNDS:-3}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_args "$@"
for m in $MODES; do case $m in off|0%|1%|100%|access_log) ;; *) die "unknown mode '$m' in MODES (use off 0% 1% 100% access_log)" ;; esac; done

for t in nginx wrk taskset curl python3; do command -v "$t" >/dev/null || die "$t is missing (bench/static.sh installs the tools)"; done
meridian_binary "$BUILD"
bench_tmpdir meridian-telemetry
mkdir -p "$TMP/files"
head -c 1024 /dev/urandom >"$TMP/files/1k.bin"

read -r COLLECTOR_PORT MERIDIAN_PORT ADMIN_PORT < <(free_ports 3)

# The collector stand-in: nginx answering every OTLP export with an empty (valid) protobuf
# response, so the numbers measure Meridian's side of tracing, not a collector's. It shares
# core 1 with wrk; at 1% sampling it sees a few exports a second.
cat >"$TMP/collector.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/collector-error.log;
pid $TMP/collector.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/client_body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  client_max_body_size 64m;
  server {
    listen 127.0.0.1:$COLLECTOR_PORT;
    location = /v1/traces { default_type application/x-protobuf; return 200 ""; }
  }
}
EOF
taskset -c 1 nginx -e "$TMP/collector-error.log" -c "$TMP/collector.conf" -p "$TMP" >"$TMP/collector.out" 2>&1 &
PIDS+=($!)


metric() { # metric NAME{labels} -> value from /metrics
  curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

declare -A RPS P99 SAMPLED DROPPED ALL
run_mode() {
  local mode=$1 tracing access out pid
  case $mode in
    off) tracing="enabled: false"; access="enabled: false" ;;
    0%) tracing="endpoint: http://127.0.0.1:$COLLECTOR_PORT/v1/traces, ratio: 0"; access="enabled: false" ;;
    1%) tracing="endpoint: http://127.0.0.1:$COLLECTOR_PORT/v1/traces, ratio: 0.01"; access="enabled: false" ;;
    100%) tracing="endpoint: http://127.0.0.1:$COLLECTOR_PORT/v1/traces, ratio: 1"; access="enabled: false" ;;
    access_log) tracing="enabled: false"; access="path: $TMP/access.log" ;;
  esac
  cat >"$TMP/meridian-$mode.yaml" <<EOF
listeners: [{name: http, address: "127.0.0.1:$MERIDIAN_PORT"}]
admin: {address: "127.0.0.1:$ADMIN_PORT"}
server: {event_loops: 1}
defaults: {root: "$TMP/files"}
telemetry:
  tracing: {$tracing}
  access_log: {$access}
EOF
  taskset -c 0 "$BIN" serve --config "$TMP/meridian-$mode.yaml" >"$TMP/meridian-$mode.log" 2>&1 &
  pid=$!
  PIDS+=($pid)
  wait_ready "meridian ($mode)" "$pid" "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/meridian-$mode.log"
  out="$TMP/wrk-$mode.txt"
  log "tracing/log mode $mode: warmup 2s, then ${DURATION}s x ${CONNECTIONS} conns"
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$MERIDIAN_PORT/1k.bin" >/dev/null
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$MERIDIAN_PORT/1k.bin" >"$out"
  ALL[$mode]="${ALL[$mode]:-} $(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  P99[$mode]=$(awk '$1 == "99%" { print $2 }' "$out")
  sleep 2  # let the last batch go out
  SAMPLED[$mode]=$(metric 'meridian_tracing_spans_total{sampled="true"}')
  DROPPED[$mode]="$(metric 'meridian_tracing_spans_dropped_total{reason="queue_full"}') / $(metric 'meridian_tracing_spans_dropped_total{reason="export_failed"}')"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
order=($MODES)
for ((r = 1; r <= ROUNDS; r++)); do
  for m in "${order[@]}"; do run_mode "$m"; done
  order=($(printf '%s\n' "${order[@]}" | tac))  # alternate who goes first
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for m in $MODES; do RPS[$m]=$(echo "${ALL[$m]}" | median); done

ratio() { [[ -n ${1:-} && -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }' || echo "-"; }
echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS ROUNDS=$ROUNDS MODES=\"$MODES\" $0 $*"
echo "nproc: $(nproc)   wrk: taskset -c 1 wrk -t1 -c$CONNECTIONS -d${DURATION}s   meridian: core 0, one event loop, GET /1k.bin"
echo "meridian: $("$BIN" version 2>&1 || echo unknown)"
echo
echo "| mode | req/s (median) | vs tracing off | all runs | p99 (last run) | spans sampled | spans dropped: queue full / export failed (last run) |"
echo "|---|---:|---:|---|---:|---:|---:|"
for m in $MODES; do
  echo "| $m | ${RPS[$m]:--} | $(ratio "${RPS[off]:-}" "${RPS[$m]:-}") | ${ALL[$m]# } | ${P99[$m]:--} | ${SAMPLED[$m]:--} | ${DROPPED[$m]:--} |"
done
