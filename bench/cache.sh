#!/usr/bin/env bash
# HTTP cache (issue 12): req/s and p99 of Meridian's L1 hit (in-process), L2 hit (Redis) and an uncached proxied
# request, for a 1 KiB and a 100 KiB response, with the L1 hit against nginx proxy_cache and Varnish serving the same
# response from their caches. One origin for all: an nginx serving 1k.bin and 100k.bin from memory with
# `Cache-Control: max-age=3600`. Every server under test has one worker / event loop / thread pool on core 0; wrk -t1
# -cCONNECTIONS runs on core 1, and so do the origin and redis-server on a 2-core machine (on core 2 when there is one).
#   meridian     one event loop, cache: defaults (256 MiB L1) plus Redis; /c/ cached (`cache: on`), /nc/ not cached
#   meridian-l2  a second instance on the same Redis with `cache: {memory: 1KiB}`: each L1 shard's share (64 bytes)
#                is smaller than any entry, so nothing stays in its L1 and every request is answered from Redis
#   nginx        proxy_cache (keys_zone=c:10m, proxy_cache_valid 200 1h), keepalive upstream
#   varnish      varnishd -F -b origin -s malloc,256m -p thread_pools=1, the built-in VCL
# Every cache is warmed and checked before measuring (Cache-Status, X-Cache, X-Varnish/Age), and the origin's
# request count (stub_status) shows that a hit run never reached it.
# Targets: L1 hit at least 1.0x nginx proxy_cache; L2 hit at least 2x the uncached proxy.
# Usage: bench/cache.sh [--build]
# Env:   DURATION=10 CONNECTIONS=32 ROUNDS=1 MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-1}
SIZES="1k 100k"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
ONLY='' bench_args "$@"  # only --build
for v in DURATION CONNECTIONS ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
(($(nproc) >= 2)) || die "needs at least 2 cores"
UP_CORE=1; (($(nproc) > 2)) && UP_CORE=2
declare -A SIZE=([1k]=1024 [100k]=102400)

# --- 1. tools and binary ------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need=(nginx varnishd redis-server redis-cli wrk taskset curl python3)
pkgs=(nginx-light varnish redis-server redis-tools wrk util-linux curl python3)
ensure_tools
meridian_binary "$BUILD"

bench_tmpdir meridian-cachebench
chmod 755 "$TMP"  # varnishd's worker process runs as its own user and must reach its -n directory in here
mkdir -p "$TMP/files" "$TMP/origin" "$TMP/nginx"
for f in $SIZES; do head -c "${SIZE[$f]}" /dev/urandom >"$TMP/files/$f.bin"; done
read -r UP_PORT STATUS_PORT REDIS_PORT NGINX_PORT VARNISH_PORT VARNISH_ADMIN M1_PORT M1_ADMIN M2_PORT M2_ADMIN \
  < <(free_ports 10)
declare -A PID LOGF

# --- 2. the origin and redis-server (core 1, or 2) -------------------------------------------------
{
  nginx_upstream_prelude "$TMP/origin"
  cat <<EOF
  server { listen 127.0.0.1:$UP_PORT reuseport; root $TMP/files; add_header Cache-Control "max-age=3600"; }
  server { listen 127.0.0.1:$STATUS_PORT; location / { stub_status; } }
}
EOF
} >"$TMP/origin/nginx.conf"
nginx -t -q -e "$TMP/origin/error.log" -c "$TMP/origin/nginx.conf" -p "$TMP/origin" || die "origin nginx config test failed"
taskset -c "$UP_CORE" nginx -e "$TMP/origin/error.log" -c "$TMP/origin/nginx.conf" -p "$TMP/origin" >"$TMP/origin/out" 2>&1 &
PIDS+=($!)
wait_ready origin "$!" "http://127.0.0.1:$UP_PORT/1k.bin" "$TMP/origin/error.log"
for f in $SIZES; do curl -s -o /dev/null "http://127.0.0.1:$UP_PORT/$f.bin"; done  # into open_file_cache

start_redis "$UP_CORE" "$REDIS_PORT"

# --- 3. the caches under test (core 0) ------------------------------------------------------------
start() {  # start NAME LOG READY_URL CMD...: run CMD on core 0 and wait until READY_URL answers 2xx
  local name=$1 logf=$2 url=$3; shift 3
  taskset -c 0 "$@" >"$TMP/$name.out" 2>&1 &
  PIDS+=($!) PID[$name]=$! LOGF[$name]=$logf
  wait_ready "$name" "$!" "$url" "$logf"
}

# sendfile on (its best here: 100 KiB hits about 2x as fast as with nginx's default, off), but not tcp_nopush: with
# it every 100 KiB hit from proxy_cache stalled ~40 ms (about 1,000 req/s at 32 connections, nginx nearly idle).
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
error_log $TMP/nginx/error.log warn; pid $TMP/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path $TMP/nginx/client_body; proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi; uwsgi_temp_path $TMP/nginx/uwsgi; scgi_temp_path $TMP/nginx/scgi;
  proxy_cache_path $TMP/nginx/cache keys_zone=c:10m;
  upstream origin { server 127.0.0.1:$UP_PORT; keepalive $CONNECTIONS; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache c; proxy_cache_valid 200 1h;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
EOF
nginx -t -q -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" || die "nginx config test failed"
start nginx "$TMP/nginx/error.log" "http://127.0.0.1:$NGINX_PORT/1k.bin" \
  nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"

# The built-in VCL with only the backend (-b); one thread pool; the manager and the worker process both on core 0.
start varnish "$TMP/varnish.out" "http://127.0.0.1:$VARNISH_PORT/1k.bin" \
  varnishd -F -a "127.0.0.1:$VARNISH_PORT" -b "127.0.0.1:$UP_PORT" -s malloc,256m -n "$TMP/varnish" \
  -T "127.0.0.1:$VARNISH_ADMIN" -p thread_pools=1

meridian_config() {  # meridian_config PORT ADMIN KEY_PREFIX CACHE_STORES UNCACHED_ROUTE(0/1)
  cat <<EOF
listeners: [{name: http, address: "127.0.0.1:$1"}]
admin: {address: "127.0.0.1:$2"}
server: {event_loops: 1}
lifecycle: {drain_delay: 0s}
telemetry: {access_log: {enabled: false}}
redis: {url: "redis://127.0.0.1:$REDIS_PORT", key_prefix: $3}
$4
upstreams:
  - name: origin
    endpoints: ["127.0.0.1:$UP_PORT"]
    pool: {max_idle: $CONNECTIONS, max_requests_per_connection: 1000000}
hosts:
  - default: true
    routes:
      - {name: cached, match: {prefix: /c/}, proxy: {upstream: origin, strip_prefix: /c}, cache: on}
EOF
  (($5)) && echo "      - {name: uncached, match: {prefix: /nc/}, proxy: {upstream: origin, strip_prefix: /nc}}"
  return 0
}
meridian_config "$M1_PORT" "$M1_ADMIN" bench-l1 "" 1 >"$TMP/meridian.yaml"
meridian_config "$M2_PORT" "$M2_ADMIN" bench-l2 "cache: {memory: 1KiB}" 0 >"$TMP/meridian-l2.yaml"
for c in meridian meridian-l2; do
  "$BIN" validate "$TMP/$c.yaml" >"$TMP/$c-validate.txt" 2>&1 \
    || die "meridian rejected $TMP/$c.yaml (a binary without the cache?): $(cat "$TMP/$c-validate.txt")"
done
MERIDIAN_ACCESS_LOG=off start meridian "$TMP/meridian.out" "http://127.0.0.1:$M1_ADMIN/readyz" \
  "$BIN" serve --config "$TMP/meridian.yaml"
MERIDIAN_ACCESS_LOG=off start meridian-l2 "$TMP/meridian-l2.out" "http://127.0.0.1:$M2_ADMIN/readyz" \
  "$BIN" serve --config "$TMP/meridian-l2.yaml"

# --- 4. warm every cache and check what answers ------------------------------------------------------
# The runs: KEY = case:size:server; URL and the process measured for each.
declare -A URL PROC ADMIN
for f in $SIZES; do
  URL[l1:$f:meridian]="http://127.0.0.1:$M1_PORT/c/$f.bin" PROC[l1:$f:meridian]=meridian ADMIN[l1:$f:meridian]=$M1_ADMIN
  URL[l1:$f:nginx]="http://127.0.0.1:$NGINX_PORT/$f.bin" PROC[l1:$f:nginx]=nginx
  URL[l1:$f:varnish]="http://127.0.0.1:$VARNISH_PORT/$f.bin" PROC[l1:$f:varnish]=varnish
  URL[l2:$f:meridian]="http://127.0.0.1:$M2_PORT/c/$f.bin" PROC[l2:$f:meridian]=meridian-l2 ADMIN[l2:$f:meridian]=$M2_ADMIN
  URL[nc:$f:meridian]="http://127.0.0.1:$M1_PORT/nc/$f.bin" PROC[nc:$f:meridian]=meridian ADMIN[nc:$f:meridian]=$M1_ADMIN
done
CHECKS=()
# get KEY: one GET of the run's URL; its headers in $TMP/h, fails unless 200 with the right byte count.
get() {
  local got f=${1#*:}; f=${f%%:*}
  got=$(curl -s -D "$TMP/h" -o /dev/null -w '%{http_code} %{size_download}' "${URL[$1]}") || true
  [[ $got == "200 ${SIZE[$f]}" ]] || die "$1: GET ${URL[$1]} gave '$got', expected '200 ${SIZE[$f]}' (log: ${LOGF[${PROC[$1]}]})"
}
header() { awk -v n="$1" 'tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); sub(/\r$/, ""); print; exit }' "$TMP/h"; }
# warm KEY HEADER PATTERN: GET until HEADER matches PATTERN (up to 20 tries, 0.1 s apart; a store in Redis is
# asynchronous), then once more, which must match too; records the header seen.
warm() {
  local key=$1 name=$2 pattern=$3 i v=""
  for ((i = 0; i < 20; i++)); do
    get "$key"; v=$(header "$name")
    [[ $v =~ $pattern ]] && break
    sleep 0.1
  done
  [[ $v =~ $pattern ]] || die "$key: ${URL[$key]} never answered '$name: $pattern'; last headers: $(tr -d '\r' <"$TMP/h" | tr '\n' '|')"
  get "$key"; v=$(header "$name")
  [[ $v =~ $pattern ]] || die "$key: a second hit on ${URL[$key]} answered '$name: $v', expected /$pattern/"
  CHECKS+=("$key: $name: $v")
}
for f in $SIZES; do
  warm "l1:$f:meridian" cache-status '^meridian-l1; hit'
  warm "l1:$f:nginx" x-cache '^HIT$'
  warm "l1:$f:varnish" x-varnish '^[0-9]+ [0-9]+$'
  [[ -n $(header age) ]] || die "l1:$f:varnish: a hit without an Age header"
  warm "l2:$f:meridian" cache-status '^meridian-l2; hit'
  [[ $(header cache-status) == *"meridian-l1; fwd="* ]] \
    || die "l2:$f:meridian: the L1 of meridian-l2 was not a miss: $(header cache-status)"
  get "nc:$f:meridian"
  [[ -z $(header cache-status) ]] || die "nc:$f:meridian: the uncached route answered Cache-Status: $(header cache-status)"
  CHECKS+=("nc:$f:meridian: no Cache-Status; x-cache/age: '$(header x-cache)'/'$(header age)'")
done

# --- 5. runs -----------------------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime, all threads
# varnishd is a manager and a worker process: both count.
proc_ticks() {
  local p=${PID[$1]} sum c
  sum=$(ticks "$p")
  for c in $(pgrep -P "$p" 2>/dev/null || true); do sum=$((sum + $(ticks "$c"))); done
  echo "$sum"
}
# cores: for core 0 and core 1, busy (all but idle and iowait), total, and (core 0) busy outside interrupts
cores() {
  awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d %d %d ", $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $2 + $3 + $4 }' /proc/stat
}
origin_requests() { curl -s "http://127.0.0.1:$STATUS_PORT/" | awk 'NR == 3 { print $3 }'; }
# lookups ADMIN: "l1 hit, l2 hit, l1 miss, l2 miss, errors+pass" of route `cached` from /metrics
lookups() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '
    /^meridian_cache_lookups_total\{/ && index($0, "route=\"cached\"") {
      t = ($0 ~ /tier="l1"/) ? "l1" : "l2"; r = $0; sub(/.*result="/, "", r); sub(/".*/, "", r); n[t ":" r] += $NF }
    END { printf "%d %d %d %d %d\n", n["l1:hit"], n["l2:hit"], n["l1:miss"], n["l2:miss"], n["l1:error"] + n["l2:error"] + n["l1:pass"] + n["l2:pass"] }'
}
now() { date +%s.%N; }
declare -A RPS LAT MBS CPU CPUUS CORE0 CORE1 ORIGIN LOOK
WARN=()
run() {
  local key=$1 name=${PROC[$1]} url=${URL[$1]} out="$TMP/wrk-${1//:/-}.txt" c0 c1 t0 t1 o0 o1 n l0 l1 k0 k1 cpu busy0 b1 task0
  log "$key: warm-up 2s, then ${DURATION}s x $CONNECTIONS conns"
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
  [[ -n ${ADMIN[$key]:-} ]] && l0=$(lookups "${ADMIN[$key]}")
  o0=$(origin_requests); k0=$(cores); c0=$(proc_ticks "$name"); t0=$(now)
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"
  c1=$(proc_ticks "$name"); t1=$(now); k1=$(cores); o1=$(origin_requests)
  [[ -n ${ADMIN[$key]:-} ]] && l1=$(lookups "${ADMIN[$key]}")
  kill -0 "${PID[$name]}" 2>/dev/null || { tail -30 "${LOGF[$name]}" >&2; die "$name died during the $key run"; }
  n=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  [[ -n $n ]] || die "could not parse wrk output: $(cat "$out")"
  RPS[$key]="${RPS[$key]:-} $(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  LAT[$key]="${LAT[$key]:-} $(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
  MBS[$key]="${MBS[$key]:-} $(to_mbs "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")"
  cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (y - x) }')
  CPU[$key]="${CPU[$key]:-} $cpu"
  read -r busy0 b1 task0 < <(awk -v a="$k0" -v b="$k1" 'BEGIN { split(a, x, " "); split(b, y, " ")
    printf "%.0f %.0f %.0f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]), 100 * (y[4] - x[4]) / (y[5] - x[5]), 100 * (y[3] - x[3]) / (y[2] - x[2]) }')
  CORE0[$key]="${CORE0[$key]:-} $busy0" CORE1[$key]="${CORE1[$key]:-} $b1"
  # Core 0 in user and system time, not the server's: another process ran there (interrupt time is left out: the
  # kernel's network work on behalf of the server lands there without being charged to it).
  ((task0 - cpu > 5)) && WARN+=("round $r, $key: core 0 ran tasks ${task0}% of the time, the server ${cpu}%: something else ran on core 0 (a noisy run)")
  CPUUS[$key]="${CPUUS[$key]:-} $(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }')"
  ORIGIN[$key]=$((o1 - o0 - 1))  # less the status request itself
  if [[ -n ${ADMIN[$key]:-} && $key != nc:* ]]; then
    LOOK[$key]=$(awk -v a="$l0" -v b="$l1" 'BEGIN { split(a, x, " "); split(b, y, " ")
      printf "l1 hit %d, l2 hit %d, l1 miss %d, l2 miss %d, error/pass %d", y[1] - x[1], y[2] - x[2], y[3] - x[3], y[4] - x[4], y[5] - x[5] }')
  fi
  if grep -qE '^ *(Socket errors|Non-2xx)' "$out"; then
    WARN+=("round $r, $key: $(grep -E '^ *(Socket errors|Non-2xx)' "$out" | tr -s ' ' | tr '\n' ';')")
  fi
  if [[ $key != nc:* ]] && ((ORIGIN[$key] > n / 100)); then
    WARN+=("round $r, $key: ${ORIGIN[$key]} requests reached the origin during the run ($n answered): not all hits")
  fi
  return 0
}
ORDER=()
for f in $SIZES; do ORDER+=("l1:$f:nginx" "l1:$f:varnish" "l1:$f:meridian" "l2:$f:meridian" "nc:$f:meridian"); done
START=$(now)
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r of $ROUNDS"
  for key in "${ORDER[@]}"; do run "$key"; done
  mapfile -t ORDER < <(printf '%s\n' "${ORDER[@]}" | tac)  # alternate who goes first
done

# --- 6. report ------------------------------------------------------------------------------------------
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
m() { median "${RPS[$1]}"; }
echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS ROUNDS=$ROUNDS MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*   (runs took $(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s)"
echo "cpu: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }')   nproc: $(nproc)"
if ((UP_CORE == 1)); then
  echo "cores: server under test on core 0; wrk, the origin nginx and redis-server share core 1 (only 2 cores)"
else
  echo "cores: server under test on core 0; wrk on core 1; the origin nginx and redis-server on core 2"
fi
echo "load: taskset -c 1 wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, after a 2 s warm-up; medians of $ROUNDS round(s)"
echo "meridian: $("$BIN" version 2>&1 || echo unknown); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(varnishd -V 2>&1 | head -1 | cut -d' ' -f1-2)); redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo
echo "warm-up checks (the second answer of each):"
for c in "${CHECKS[@]}"; do echo "  $c"; done
echo
echo "| case | size | server | req/s | p99 ms | MB/s | server CPU % | CPU us/request | core 0 / core 1 busy % | origin requests | cache lookups (meridian) |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
declare -A LABEL=([l1]="cache hit" [l2]="L2 hit (Redis)" [nc]="uncached proxy")
for f in $SIZES; do
  for key in "l1:$f:meridian" "l1:$f:nginx" "l1:$f:varnish" "l2:$f:meridian" "nc:$f:meridian"; do
    c=${key%%:*} s=${key##*:}
    label=${LABEL[$c]}; [[ $key == l1:*:meridian ]] && label="L1 hit (in-process)"
    [[ $s == nginx ]] && s="nginx proxy_cache"
    [[ $c == l2 ]] && s="meridian (memory: 1KiB)"
    echo "| $label | $f | $s | $(m "$key") | $(median "${LAT[$key]}") | $(median "${MBS[$key]}") |" \
      "$(median "${CPU[$key]}") | $(median "${CPUUS[$key]}") | $(median "${CORE0[$key]}") / $(median "${CORE1[$key]}") |" \
      "${ORIGIN[$key]} | ${LOOK[$key]:--} |"
  done
done
echo
echo "origin requests and cache lookups: during the last round's measured run. CPU: the server's utime+stime (varnishd: manager +"
echo "worker), per second of the run and per request; core busy from /proc/stat. A server well below 100% with core 1 near 100%"
echo "was held back by the client side (wrk$( ((UP_CORE == 1)) && echo ", plus the origin or redis-server on this machine"))."
if ((ROUNDS > 1)); then
  echo
  echo "every req/s: $(for key in $(printf '%s\n' "${!RPS[@]}" | sort); do printf '%s:%s ' "$key" "$(tr -s ' ' ',' <<<"${RPS[$key]# }")"; done)"
fi
echo
echo "| size | L1 hit / nginx proxy_cache | L1 hit / Varnish | L2 hit / uncached proxy |"
echo "|---|---:|---:|---:|"
for f in $SIZES; do
  echo "| $f | $(ratio "$(m "l1:$f:meridian")" "$(m "l1:$f:nginx")") | $(ratio "$(m "l1:$f:meridian")" "$(m "l1:$f:varnish")") |" \
    "$(ratio "$(m "l2:$f:meridian")" "$(m "nc:$f:meridian")") |"
done
echo
for f in $SIZES; do
  r=$(ratio "$(m "l1:$f:meridian")" "$(m "l1:$f:nginx")")
  echo "target $f (L1 hit at least 1.0x nginx proxy_cache): $r, $(awk -v r="$r" 'BEGIN { print (r + 0 >= 1.0) ? "met" : "NOT met" }')"
  r=$(ratio "$(m "l2:$f:meridian")" "$(m "nc:$f:meridian")")
  echo "target $f (L2 hit at least 2x the uncached proxy): $r, $(awk -v r="$r" 'BEGIN { print (r + 0 >= 2.0) ? "met" : "NOT met" }')"
done
n=$(grep -c 'buffered to a temporary file' "$TMP/nginx/error.log" || true)
((n)) && echo "note: nginx wrote $n upstream responses to temporary files"
for w in "${WARN[@]}"; do echo "warning: $w"; done
if printf '%s\n' "${WARN[@]}" | grep -q ':meridian: *\(Socket errors\|Non-2xx\)'; then
  for c in meridian meridian-l2; do echo; echo "--- last 20 lines of the $c log:"; tail -20 "$TMP/$c.out"; done
fi
exit 0
