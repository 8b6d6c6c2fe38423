#!/usr/bin/env bash
# Redis client throughput: Meridian's client (`meridian bench-redis`, hidden) against redis-benchmark,
# pipelined GET and SET of VALUE_SIZE-byte values on the same redis-server (started here on a free port,
# --save '' --appendonly no, pinned to core 0). Both clients run on core 1, one after the other, in one run;
# who goes first alternates per command. redis-benchmark: -c CLIENTS connections, each sending PIPELINE
# commands and waiting for all their replies. Meridian: CLIENTS callers each keeping PIPELINE commands in
# flight (the next issued from each completion, on the event loop), over ONE connection per event loop —
# the client multiplexes every caller onto it; LOOPS lists the event-loop counts to run (all on core 1).
# Usage: bench/redis.sh [--build]
# Env:   REQUESTS=1000000 PIPELINE=16 CLIENTS=50 VALUE_SIZE=100 LOOPS="1 2" COMMANDS="set get" ROUNDS=1
#        MERIDIAN_BIN=path
#
# Results, 2026-12-01, Intel(R) Xeon(R) Processor (KVM, 2 vCPUs, model 207), redis 7.0.15, quiet machine:
#   ROUNDS=3 bench/redis.sh   (1M requests, -P 16, -c 50, -d 100; medians of 3)
#   | command | redis-benchmark req/s | meridian 1 loop req/s | ratio | meridian 2 loops req/s | ratio |
#   | SET     | 1253133               | 812702                | 0.65  | 793034                 | 0.63  |
#   | GET     | 1497006               | 726587                | 0.49  | 697785                 | 0.47  |
#   client CPU per request: redis-benchmark 0.56 us, meridian 1.21-1.36 us (redis-server at 35-60% of its core:
#   the client is the limit). Before caching the last node's link and laying the encoder's arguments out on the
#   stack, meridian was at 1.44-1.50 us (0.67M req/s).
# Where the rest goes (perf, GET, 1 loop, before those two changes): ~30% retain/release, the encoder 12% (hiredis
# mallocs each formatted command and formats lengths with sprintf), promise/future allocation and generic
# metadata ~10%, syscalls ~4%. A second event loop on the same core adds nothing (one core is the limit).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-1000000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
VALUE_SIZE=${VALUE_SIZE:-100}
LOOPS=${LOOPS:-"1 2"}
COMMANDS=${COMMANDS:-"set get"}
ROUNDS=${ROUNDS:-1}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
ONLY='' bench_args "$@"  # only --build
for v in REQUESTS PIPELINE CLIENTS ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $VALUE_SIZE =~ ^[0-9]+$ ]] || die "VALUE_SIZE must be a whole number of bytes, got '$VALUE_SIZE'"
for l in $LOOPS; do [[ $l =~ ^[1-9][0-9]*$ ]] || die "LOOPS takes positive integers, got '$l'"; done
for c in $COMMANDS; do [[ $c == get || $c == set ]] || die "COMMANDS takes get and set, got '$c'"; done
(($(nproc) >= 2)) || die "needs at least 2 cores"

# --- 1. tools and binary ------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need=(redis-server redis-benchmark redis-cli taskset) pkgs=(redis-server redis-tools util-linux)
ensure_tools
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
meridian_binary "$BUILD"
"$BIN" bench-redis --help >/dev/null 2>&1 || die "$BIN has no bench-redis subcommand (build this branch)"

# --- 2. redis-server ------------------------------------------------------------------
bench_tmpdir meridian-redisbench
read -r PORT < <(free_ports 1)
taskset -c 0 redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$TMP" \
  --logfile "$TMP/redis.log" --daemonize no >"$TMP/redis.out" 2>&1 &
REDIS_PID=$!
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || { tail -20 "$TMP/redis.log" "$TMP/redis.out" >&2 || true; die "redis-server exited during startup"; }
  sleep 0.1
done
[[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer PING after 10s"

# --- 3. runs -------------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime+stime, all threads
now() { date +%s.%N; }
declare -A ALL CPU SRV  # ALL[cmd:client] = req/s of each round; CPU = client CPU us/request; SRV = redis-server CPU %
WARN=()
# record CMD CLIENT RPS CLIENT_CPU_SECONDS T0 T1 S0 S1: append one run's numbers.
record() {
  local c=$1 who=$2 rps=$3 cpu=$4
  ALL[$c:$who]="${ALL[$c:$who]:-} $rps"
  CPU[$c:$who]="${CPU[$c:$who]:-} $(awk -v s="$cpu" -v n="$REQUESTS" 'BEGIN { printf "%.2f", s * 1e6 / n }')"
  SRV[$c:$who]="${SRV[$c:$who]:-} $(awk -v a="$7" -v b="$8" -v x="$5" -v y="$6" -v hz="$HZ" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (y - x) }')"
}
run_redis_benchmark() {
  local c=$1 out="$TMP/rb-$1.csv" t0 t1 s0 s1 rps cpu
  log "redis-benchmark $c: -n $REQUESTS -P $PIPELINE -c $CLIENTS -d $VALUE_SIZE"
  s0=$(ticks "$REDIS_PID"); t0=$(now)
  taskset -c 1 /usr/bin/time -f '%U %S' -o "$TMP/rb-time" \
    redis-benchmark -p "$PORT" -t "$c" -n "$REQUESTS" -P "$PIPELINE" -c "$CLIENTS" -d "$VALUE_SIZE" --csv >"$out" 2>"$TMP/rb-$c.err" \
    || die "redis-benchmark failed: $(tail -5 "$TMP/rb-$c.err")"
  t1=$(now); s1=$(ticks "$REDIS_PID")
  rps=$(awk -F'"' -v t="${c^^}" '$2 == t { printf "%.0f", $4 }' "$out")
  [[ -n $rps ]] || die "could not parse redis-benchmark output: $(cat "$out")"
  cpu=$(awk '{ print $1 + $2 }' "$TMP/rb-time")
  record "$c" rb "$rps" "$cpu" "$t0" "$t1" "$s0" "$s1"
}
run_meridian() {
  local c=$1 loops=$2 out="$TMP/m-$1-$2.json" t0 t1 s0 s1 rps cpu errors
  log "meridian bench-redis $c: --requests $REQUESTS --pipeline $PIPELINE --connections $CLIENTS --loops $loops"
  s0=$(ticks "$REDIS_PID"); t0=$(now)
  taskset -c 1 "$BIN" bench-redis --url "redis://127.0.0.1:$PORT" --command "$c" --requests "$REQUESTS" \
    --pipeline "$PIPELINE" --connections "$CLIENTS" --value-size "$VALUE_SIZE" --loops "$loops" >"$out" 2>"$TMP/m-$c.err" \
    || die "meridian bench-redis failed: $(tail -5 "$TMP/m-$c.err")"
  t1=$(now); s1=$(ticks "$REDIS_PID")
  field() { sed -n "s/.*\"$1\": \"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" "$out"; }
  rps=$(field rps) cpu=$(field cpu_seconds) errors=$(field errors)
  [[ -n $rps && -n $cpu ]] || die "could not parse bench-redis output: $(cat "$out")"
  ((errors == 0)) || WARN+=("meridian $c loops=$loops: $errors errors ($(field first_error))")
  record "$c" "m$loops" "$rps" "$cpu" "$t0" "$t1" "$s0" "$s1"
}
START=$(now)
clients=(rb); for l in $LOOPS; do clients+=("m$l"); done
for ((r = 1; r <= ROUNDS; r++)); do
  for c in $COMMANDS; do
    for who in "${clients[@]}"; do
      if [[ $who == rb ]]; then run_redis_benchmark "$c"; else run_meridian "$c" "${who#m}"; fi
    done
    clients=($(printf '%s\n' "${clients[@]}" | tac))  # alternate who goes first
  done
done

# --- 4. report -----------------------------------------------------------------------------
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a + 0 > 0 && b != "") printf "%.2f", b / a; else print "-" }'; }
echo
echo "command: REQUESTS=$REQUESTS PIPELINE=$PIPELINE CLIENTS=$CLIENTS VALUE_SIZE=$VALUE_SIZE LOOPS=\"$LOOPS\" COMMANDS=\"$COMMANDS\" ROUNDS=$ROUNDS MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*   (runs took $(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s)"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')   nproc: $(nproc)   cores: redis-server on 0, every client on 1"
echo "redis: $(redis-server --version | cut -d' ' -f3); redis-benchmark -p PORT -t CMD -n $REQUESTS -P $PIPELINE -c $CLIENTS -d $VALUE_SIZE --csv"
echo "meridian: $("$BIN" version 2>&1 || echo unknown); meridian bench-redis --url redis://127.0.0.1:PORT --command CMD --requests $REQUESTS --pipeline $PIPELINE --connections $CLIENTS --value-size $VALUE_SIZE --loops L"
echo
hdr="| command | redis-benchmark req/s |" sep="|---|---:|"
for l in $LOOPS; do hdr+=" meridian ($l loop(s)) req/s | ratio |"; sep+="---:|---:|"; done
echo "$hdr"; echo "$sep"
for c in $COMMANDS; do
  rb=$(echo "${ALL[$c:rb]}" | median)
  row="| ${c^^} | $rb |"
  for l in $LOOPS; do m=$(echo "${ALL[$c:m$l]}" | median); row+=" $m | $(ratio "$rb" "$m") |"; done
  echo "$row"
done
echo
echo "ratio = meridian / redis-benchmark (req/s$( ((ROUNDS > 1)) && echo ", medians of $ROUNDS rounds")). Per run: client CPU (user+sys, all threads) per request, redis-server CPU:"
echo
echo "| command | client | req/s (each round) | client CPU us/request | redis-server CPU % |"
echo "|---|---|---|---:|---:|"
for c in $COMMANDS; do
  for who in "${clients[@]}"; do
    name="redis-benchmark"; [[ $who == m* ]] && name="meridian ${who#m} loop(s)"
    echo "| ${c^^} | $name | ${ALL[$c:$who]# } | $(echo "${CPU[$c:$who]}" | median) | $(echo "${SRV[$c:$who]}" | median) |"
  done
done
echo
echo "A client near 100% of core 1 while redis-server is well below 100% of core 0 means the client was the limit."
for w in "${WARN[@]}"; do echo "warning: $w"; done
exit 0
