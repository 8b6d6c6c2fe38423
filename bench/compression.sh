#!/usr/bin/env bash
# On-the-fly compression: Meridian against nginx on a 100 KiB JavaScript file (the first 100 KiB of the real
# bootstrap.bundle.js Debian ships), in one run: gzip level 6 on the fly (nginx `gzip on; gzip_comp_level 6`,
# Meridian `compression: {cache: false}`), the cached variant (nginx `gzip_static` with a gzip -6 sibling,
# Meridian's variant cache) and brotli 5 (Meridian alone: nginx has no brotli module here). Each server has one
# worker / event loop on core 0; wrk -t1 -cCONNECTIONS on core 1 asks with `Accept-Encoding: gzip` (or br).
# Printed: req/s, response bytes/s (wrk's Transfer/sec), server CPU per request, and Meridian / nginx.
# Target (issue 13): at least 1.0x nginx for gzip on the fly.
# Usage: bench/compression.sh [--build]
# Env:   DURATION=10 CONNECTIONS=32 ROUNDS=1 MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-1}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
ONLY='' bench_args "$@"  # only --build
export PATH="$PATH:/usr/sbin:/sbin"
need=(nginx wrk taskset curl python3 gzip) pkgs=(nginx-light wrk util-linux curl python3 gzip)
ensure_tools
meridian_binary "$BUILD"
bench_tmpdir meridian-compression
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime, all threads
HZ=$(getconf CLK_TCK)

# --- the file -------------------------------------------------------------------------------------
mkdir -p "$TMP/files" "$TMP/nginx"
src=$(find /usr/share/nodejs /usr/share/javascript -name '*.js' -size +100k 2>/dev/null | sort | head -1 || true)
if [[ -n $src ]]; then head -c 102400 "$src" >"$TMP/files/app.js"; else
  python3 -c 'import sys; sys.stdout.write(("function f%d(a, b) { return a * %d + b; }\n" * 1) * 0 + "".join("function f%d(a, b) { return a * %d + b; }\n" % (i, i) for i in range(3000))[:102400])' >"$TMP/files/app.js"
fi
cp "$TMP/files/app.js" "$TMP/files/static.js"
gzip -6 -k -n "$TMP/files/static.js"   # nginx gzip_static's sibling
log "file: ${src:-generated} (first 100 KiB), gzip -6: $(stat -c %s "$TMP/files/static.js.gz") bytes"

read -r NGINX_PORT MERIDIAN_PORT ADMIN_PORT < <(free_ports 3)
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
error_log $TMP/nginx/error.log; pid $TMP/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 300s;
  open_file_cache max=1000 inactive=600s; open_file_cache_valid 600s;
  types { application/javascript js; }
  client_body_temp_path $TMP/nginx/cb; proxy_temp_path $TMP/nginx/p; fastcgi_temp_path $TMP/nginx/f;
  uwsgi_temp_path $TMP/nginx/u; scgi_temp_path $TMP/nginx/s;
  server {
    listen 127.0.0.1:$NGINX_PORT; root $TMP/files;
    location = /app.js { gzip on; gzip_comp_level 6; gzip_types application/javascript; gzip_min_length 256; gzip_vary on; }
    location = /static.js { gzip_static on; gzip_vary on; }
  }
}
EOF
taskset -c 0 nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx/out" 2>&1 &
NPID=$!
PIDS+=($NPID)
cat >"$TMP/meridian.yaml" <<EOF
listeners: [{name: http, address: "127.0.0.1:$MERIDIAN_PORT"}]
admin: {address: "127.0.0.1:$ADMIN_PORT"}
server: {event_loops: 1}
telemetry: {access_log: {enabled: false}}
compression: {enabled: true, gzip_level: 6, brotli_level: 5}
hosts:
  - default: true
    routes:
      - match: {path: /app.js}
        compression: {cache: false}
        static: {root: "$TMP/files"}
      - match: {prefix: /}
        static: {root: "$TMP/files"}
EOF
MERIDIAN_ACCESS_LOG=off taskset -c 0 "$BIN" serve --config "$TMP/meridian.yaml" >"$TMP/meridian.log" 2>&1 &
MPID=$!
PIDS+=($MPID)
wait_ready nginx "$NPID" "http://127.0.0.1:$NGINX_PORT/app.js" "$TMP/nginx/error.log"
wait_ready meridian "$MPID" "http://127.0.0.1:$MERIDIAN_PORT/app.js" "$TMP/meridian.log"

# Both answer compressed bytes that decode to the file (brotli checked with the test venv's PyPI brotli when
# scripts/test.sh has made it; Debian's python3 has zlib only).
PY=python3
[[ -x $ROOT/.build/test-venv/bin/python3 ]] && PY=$ROOT/.build/test-venv/bin/python3
check() { # NAME PORT PATH CODING
  local got
  got=$(curl -s -H "Accept-Encoding: $4" -D "$TMP/h" -o "$TMP/body" "http://127.0.0.1:$2$3" -w '%{http_code}')
  [[ $got == 200 ]] && grep -qi "^content-encoding: $4" "$TMP/h" || die "$1 $3 did not answer $4 ($got): $(cat "$TMP/h")"
  if [[ $4 == br ]] && ! "$PY" -c 'import brotli' 2>/dev/null; then
    log "no python brotli: $1 $3 br not decoded (run scripts/test.sh once to make .build/test-venv)"
  else
    "$PY" "$ROOT/Tests/tools/decompress.py" "$4" "$TMP/body" | cmp -s - "$TMP/files/app.js" || die "$1 $3 $4 does not decode to the file"
  fi
  stat -c %s "$TMP/body"
}
declare -A SIZE
SIZE[nginx-fly]=$(check nginx "$NGINX_PORT" /app.js gzip)
SIZE[nginx-static]=$(check nginx "$NGINX_PORT" /static.js gzip)
SIZE[meridian-fly]=$(check meridian "$MERIDIAN_PORT" /app.js gzip)
SIZE[meridian-static]=$(check meridian "$MERIDIAN_PORT" /static.js gzip)
SIZE[meridian-br]=$(check meridian "$MERIDIAN_PORT" /static.js br)
SIZE[meridian-brfly]=$(check meridian "$MERIDIAN_PORT" /app.js br)

declare -A RPS BPS CPU
run() { # KEY PID PORT PATH CODING
  local out="$TMP/wrk-$1.txt" c0 c1 n
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s -H "Accept-Encoding: $5" "http://127.0.0.1:$3$4" >/dev/null
  c0=$(ticks "$2")
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Accept-Encoding: $5" "http://127.0.0.1:$3$4" >"$out"
  c1=$(ticks "$2")
  n=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  RPS[$1]="${RPS[$1]:-} $(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  BPS[$1]="${BPS[$1]:-} $(to_mbs "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")"
  CPU[$1]="${CPU[$1]:-} $(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }')"
  ! grep -qE '^ *(Socket errors|Non-2xx)' "$out" || log "$1: $(grep -E '^ *(Socket errors|Non-2xx)' "$out" | tr -s ' ')"
}
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r"
  run nginx-fly "$NPID" "$NGINX_PORT" /app.js gzip
  run meridian-fly "$MPID" "$MERIDIAN_PORT" /app.js gzip
  run nginx-static "$NPID" "$NGINX_PORT" /static.js gzip
  run meridian-static "$MPID" "$MERIDIAN_PORT" /static.js gzip
  run meridian-brfly "$MPID" "$MERIDIAN_PORT" /app.js br
  run meridian-br "$MPID" "$MERIDIAN_PORT" /static.js br
done

echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS ROUNDS=$ROUNDS bench/compression.sh"
echo "cpu: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }')   nproc: $(nproc)   $(nginx -v 2>&1)"
echo
echo "| case | server | body bytes | req/s | MB/s | CPU us/request | meridian / nginx (req/s) |"
echo "|---|---|---:|---:|---:|---:|---:|"
row() { # KEY SERVER LABEL RATIO_TO
  local rps; rps=$(median "${RPS[$1]}")
  local ratio="-"
  [[ -n ${4:-} ]] && ratio=$(awk -v a="$rps" -v b="$(median "${RPS[$4]}")" 'BEGIN { printf "%.2f", a / b }')
  echo "| $3 | $2 | ${SIZE[$1]} | $rps | $(median "${BPS[$1]}") | $(median "${CPU[$1]}") | $ratio |"
}
row nginx-fly nginx "gzip 6 on the fly"
row meridian-fly meridian "gzip 6 on the fly" nginx-fly
row nginx-static nginx "gzip, cached variant (gzip_static)"
row meridian-static meridian "gzip, cached variant" nginx-static
row meridian-brfly meridian "brotli 5 on the fly"
row meridian-br meridian "brotli 5, cached variant"
echo
echo "every req/s: $(for k in nginx-fly meridian-fly nginx-static meridian-static meridian-brfly meridian-br; do printf '%s:%s ' "$k" "${RPS[$k]# }"; done)"
awk -v m="$(median "${RPS[meridian-fly]}")" -v n="$(median "${RPS[nginx-fly]}")" \
  'BEGIN { r = m / n; printf "target (gzip on the fly >= 1.0x nginx): %.2f, %s\n", r, (r >= 1.0 ? "met" : "NOT met") }'
