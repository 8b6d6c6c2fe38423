#!/usr/bin/env bash
# Static-file benchmark: Meridian vs nginx, side by side, one core each server.
# Usage: bench/static.sh [--build]
# Env:   DURATION=10 CONNECTIONS=64 FILES="1k 100k 10m" ONLY=nginx|meridian MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
FILES=${FILES:-"1k 100k 10m"}
ONLY=${ONLY:-}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_args "$@"

declare -A SIZE=([1k]=1024 [100k]=102400 [10m]=10485760)
for f in $FILES; do [[ -n ${SIZE[$f]:-} ]] || die "unknown file '$f' in FILES (use 1k 100k 10m)"; done

# --- 1. tools -------------------------------------------------------------
missing=()
for t in nginx wrk taskset curl python3; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  log "missing: ${missing[*]}; installing (waits for any running apt/dpkg, see /tmp/apt.log)"
  SUDO=(); ((EUID == 0)) || SUDO=(sudo)
  apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
      install -y nginx-light wrk util-linux curl
  }
  apt_install || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 update && apt_install; } \
    || die "could not install tools"
  export PATH="$PATH:/usr/sbin:/sbin"
  for t in nginx wrk taskset; do command -v "$t" >/dev/null || die "$t still missing after install"; done
fi

# --- 2. meridian binary -----------------------------------------------------
if want meridian; then meridian_binary "$BUILD"; fi

# --- 3. temp dir, files, cleanup -------------------------------------------
bench_tmpdir meridian-bench
mkdir -p "$TMP/files"
for f in $FILES; do head -c "${SIZE[$f]}" /dev/urandom >"$TMP/files/$f.bin"; done
# readiness/size check always uses 1k.bin, so make sure it exists
[[ -f $TMP/files/1k.bin ]] || head -c 1024 /dev/urandom >"$TMP/files/1k.bin"

# --- 6. ports -----------------------------------------------------------------
read -r NGINX_PORT MERIDIAN_PORT ADMIN_PORT < <(free_ports 3)
declare -A PORT=([nginx]=$NGINX_PORT [meridian]=$MERIDIAN_PORT)

check_size() {
  local name=$1 got
  got=$(curl -sf -o /dev/null -w '%{size_download}' "http://127.0.0.1:${PORT[$name]}/1k.bin") \
    || die "$name: GET /1k.bin failed"
  [[ $got == 1024 ]] || die "$name: /1k.bin returned $got bytes, expected 1024"
}

# --- 4. nginx ---------------------------------------------------------------
if want nginx; then
  cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/nginx-error.log;
pid $TMP/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 100000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  types { application/octet-stream bin; }
  client_body_temp_path $TMP/client_body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  server { listen 127.0.0.1:$NGINX_PORT reuseport; root $TMP/files; }
}
EOF
  nginx -t -q -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" || die "nginx config test failed"
  taskset -c 0 nginx -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" >"$TMP/nginx.out" 2>&1 &
  PIDS+=($!)
  wait_ready nginx "$!" "http://127.0.0.1:$NGINX_PORT/1k.bin" "$TMP/nginx-error.log"
  check_size nginx
fi

# --- 5. meridian ------------------------------------------------------------
if want meridian; then
  MERIDIAN_ACCESS_LOG=off MERIDIAN_EVENT_LOOPS=1 taskset -c 0 "$BIN" serve --listen "127.0.0.1:$MERIDIAN_PORT" \
    --admin "127.0.0.1:$ADMIN_PORT" --root "$TMP/files" >"$TMP/meridian.log" 2>&1 &
  PIDS+=($!)
  wait_ready meridian "$!" "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/meridian.log"
  check_size meridian
fi

# --- 8. run wrk ---------------------------------------------------------------
declare -A RPS MBS P99
WARN=()
run_wrk() {
  local name=$1 f=$2 url out
  url="http://127.0.0.1:${PORT[$name]}/$f.bin"
  out="$TMP/wrk-$name-$f.txt"
  log "$name $f.bin: warmup 2s, then ${DURATION}s x ${CONNECTIONS} conns"
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"
  RPS[$name:$f]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  MBS[$name:$f]=$(to_mbs "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")
  P99[$name:$f]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [[ -n ${RPS[$name:$f]} ]] || die "could not parse wrk output: $(cat "$out")"
  if grep -qE '^ *(Socket errors|Non-2xx)' "$out"; then
    WARN+=("$name $f: $(grep -E '^ *(Socket errors|Non-2xx)' "$out" | tr -s ' ' | tr '\n' ';')")
  fi
}
i=0
for f in $FILES; do
  order=("${SERVERS[@]}")
  ((i++ % 2)) && order=($(printf '%s\n' "${SERVERS[@]}" | tac))  # alternate who goes first
  for s in "${order[@]}"; do run_wrk "$s" "$f"; done
done

# --- 9. report ----------------------------------------------------------------
ratio() { [[ -n ${1:-} && -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }' || echo "-"; }
echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS FILES=\"$FILES\" ONLY=${ONLY} $0 $*"
echo "nproc: $(nproc)   wrk: taskset -c 1 wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency   servers: core 0"
want nginx && echo "nginx: $(nginx -v 2>&1)"
want meridian && echo "meridian: $("$BIN" version 2>&1 || echo unknown)"
echo
echo "| file | nginx req/s | meridian req/s | ratio req/s | nginx MB/s | meridian MB/s | ratio MB/s | nginx p99 ms | meridian p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for f in $FILES; do
  n=nginx:$f m=meridian:$f
  echo "| $f | ${RPS[$n]:--} | ${RPS[$m]:--} | $(ratio "${RPS[$n]:-}" "${RPS[$m]:-}") |" \
       "${MBS[$n]:--} | ${MBS[$m]:--} | $(ratio "${MBS[$n]:-}" "${MBS[$m]:-}") |" \
       "${P99[$n]:--} | ${P99[$m]:--} |"
done
for w in "${WARN[@]}"; do echo "warning: $w"; done
