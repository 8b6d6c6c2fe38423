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

taskset -c "$UP_CORE" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
  --logfile "$TMP/redis.log" --daemonize no >"$TMP/redis.out" 2>&1 &
REDIS_PID=$!
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || { tail -20 "$TMP/redis.log" >&2 || true; die "redis-server exited during startup"; }
  sleep 0.1
done
[[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer PING after 10s"

# --- 3. the caches under test (core 0) ------------------------------------------------------------
start() {  # start NAME LOG READY_URL CMD...: run CMD on core 0 and wait until READY_URL answers 2xx
  local name=$1 logf=$2 url=$3; shift 3
  taskset -c 0 "$@" >"$TMP/$name.out" 2>&1 &
  PIDS+=($!) PID[$name]=$! LOGF[$name]=$logf
  wait_ready "$name" "$!" "$url" "$logf"
}

cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
error_log $TMP/nginx/error.log warn; pid $TMP/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
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

declare -p URL PID > /tmp/cachedbg.env; echo TMP=$TMP >> /tmp/cachedbg.env; echo ready >&2; sleep 100000
