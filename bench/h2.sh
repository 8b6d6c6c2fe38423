#!/usr/bin/env bash
# HTTP/2-over-TLS and TLS-handshake benchmark: Meridian vs nginx, one core each server.
# Usage: bench/h2.sh [--build]
# Env:   DURATION=10 ROUNDS=3 ONLY=nginx|meridian TESTS="h2 hs rs" MERIDIAN_BIN=path
# The h2 test runs ROUNDS times, servers alternating, and reports the median of each (the
# load generator shares the machine: single runs of nginx here varied from 97k to 117k req/s).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
ONLY=${ONLY:-}
TESTS=${TESTS:-h2 hs rs}
ROUNDS=${ROUNDS:-3}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_args "$@"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number, got '$ROUNDS'"

# --- 1. tools -------------------------------------------------------------
missing=()
for t in h2load nginx openssl wrk taskset curl stdbuf python3; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  log "missing: ${missing[*]}; installing (waits for any running apt/dpkg)"
  SUDO=(); ((EUID == 0)) || SUDO=(sudo)
  apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
      install -y nghttp2-client nginx-light openssl wrk util-linux coreutils curl
  }
  apt_install || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 update && apt_install; } \
    || die "could not install tools"
  export PATH="$PATH:/usr/sbin:/sbin"
  for t in h2load nginx openssl wrk taskset; do command -v "$t" >/dev/null || die "$t still missing after install"; done
fi

# --- 2. meridian binary -----------------------------------------------------
if want meridian; then meridian_binary "$BUILD"; fi

# --- 3. temp dir, certificate, file, cleanup -------------------------------
bench_tmpdir meridian-h2bench
mkdir -p "$TMP/files"
head -c 1024 /dev/urandom >"$TMP/files/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null \
  || die "openssl could not make the certificate"

read -r NGINX_PORT MERIDIAN_PORT ADMIN_PORT < <(free_ports 3)
declare -A PORT=([nginx]=$NGINX_PORT [meridian]=$MERIDIAN_PORT) PID LOGF

# check_proto NAME: h2 must answer "2 200 1024", HTTP/1.1 with Connection: close "1.1 200 1024"
check_proto() {
  local name=$1 url="https://127.0.0.1:${PORT[$1]}/1k.bin" got
  got=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code} %{size_download}' "$url") || true
  [[ $got == "2 200 1024" ]] || die "$name: h2 GET /1k.bin gave '$got', expected '2 200 1024'"
  got=$(curl -sk --http1.1 -H 'Connection: close' -o /dev/null -w '%{http_version} %{http_code} %{size_download}' "$url") || true
  [[ $got == "1.1 200 1024" ]] || die "$name: HTTP/1.1 GET /1k.bin gave '$got', expected '1.1 200 1024'"
}

# --- 4. nginx ---------------------------------------------------------------
if want nginx; then
  cat >"$TMP/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
error_log $TMP/nginx-error.log; pid $TMP/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; http2_max_concurrent_streams 128;
  open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;
  types { application/octet-stream bin; }
  client_body_temp_path $TMP/client_body; proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi; uwsgi_temp_path $TMP/uwsgi; scgi_temp_path $TMP/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl http2 reuseport;
    ssl_certificate $TMP/cert.pem; ssl_certificate_key $TMP/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $TMP/files;
  }
}
EOF
  nginx -t -q -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" || die "nginx config test failed"
  taskset -c 0 nginx -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" >"$TMP/nginx.out" 2>&1 &
  PIDS+=($!) PID[nginx]=$! LOGF[nginx]=$TMP/nginx-error.log
  wait_ready nginx "$!" "https://127.0.0.1:$NGINX_PORT/1k.bin" "$TMP/nginx-error.log"
  check_proto nginx
fi

# --- 5. meridian ------------------------------------------------------------
if want meridian; then
  MERIDIAN_ACCESS_LOG=off MERIDIAN_EVENT_LOOPS=1 taskset -c 0 "$BIN" serve --listen "127.0.0.1:$MERIDIAN_PORT" \
    --admin "127.0.0.1:$ADMIN_PORT" --root "$TMP/files" \
    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" >"$TMP/meridian.log" 2>&1 &
  PIDS+=($!) PID[meridian]=$! LOGF[meridian]=$TMP/meridian.log
  wait_ready meridian "$!" "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/meridian.log"
  check_proto meridian
fi

# --- 6. runs ------------------------------------------------------------------
ticks() { awk '{ print $14 + $15 }' "/proc/${PID[$1]}/stat" 2>/dev/null || echo 0; }  # utime+stime
now() { date +%s.%N; }; HZ=$(getconf CLK_TCK)
declare -A R ALL  # R[test:server] = value; tests: h2 lat h2cpu hs hscpu hsus rs; ALL[server] = h2 req/s of each round
WARN=()
# measure NAME TEST CMD...: run CMD, record server CPU % over it in R[TESTcpu:NAME], die if the server died
measure() {
  local name=$1 test=$2 c0 c1 t0 t1; shift 2
  c0=$(ticks "$name"); t0=$(now)
  "$@" || true
  c1=$(ticks "$name"); t1=$(now)
  R[${test}cpu:$name]=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v d="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" \
    'BEGIN { printf "%.1f", 100 * (b - a) / hz / d }')
  kill -0 "${PID[$name]}" 2>/dev/null || { echo "--- last 30 lines of ${LOGF[$name]}:" >&2
    tail -30 "${LOGF[$name]}" >&2 || true; die "$name died during the $test run"; }
}
run_h2() {
  local name=$1 out="$TMP/h2load-$1.txt"
  log "$name h2: 2s warm-up, then ${DURATION}s, 32 conns x 10 streams"
  measure "$name" h2 eval 'taskset -c 1 h2load -c 32 -m 10 -D "$DURATION" --warm-up-time 2 \
    "https://127.0.0.1:${PORT[$name]}/1k.bin" >"$out" 2>&1'
  R[h2:$name]=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") printf "%.0f", $(i-1) }' "$out")
  ALL[$name]+="${R[h2:$name]} "
  R[lat:$name]=$(to_ms "$(awk '/^time for request:/ { print $6 }' "$out")")
  [[ -n ${R[h2:$name]} ]] || die "could not parse h2load output: $(tail -20 "$out")"
  grep -q '^Application protocol: h2$' "$out" || WARN+=("$name h2: $(grep '^Application protocol' "$out" || echo 'no ALPN protocol')")
  awk '/^requests:/ && ($10 + $12 + $14 > 0 || $8 == 0) { bad = 1 }
       /^status codes:/ && ($5 + $7 + $9 > 0) { bad = 1 } END { exit !bad }' "$out" \
    && WARN+=("$name h2: $(grep -E '^(requests|status codes):' "$out" | tr '\n' ';')")
  return 0
}
# Full handshakes: curl --no-sessionid never offers a session id or ticket, so every
# request is a new TCP connection plus a full TLS handshake (wrk and h2load resume sessions).
run_hs() {
  local name=$1 out="$TMP/hs-$1.txt" t0 t1 ok
  local cmd=(taskset -c 1 stdbuf -oL curl -sk -Z --parallel-max 64 --no-sessionid --http1.1
    -H 'Connection: close' -o /dev/null -w '%{http_code}\n' "https://127.0.0.1:${PORT[$name]}/1k.bin#[1-100000000]")
  log "$name full TLS handshakes: 2s warm-up, then ${DURATION}s, 64 parallel"
  timeout 2s "${cmd[@]}" >/dev/null 2>&1 || true
  t0=$(now)
  measure "$name" hs eval 'timeout "${DURATION}s" "${cmd[@]}" >"$out" 2>/dev/null'
  t1=$(now)
  ok=$(grep -c '^200$' "$out" || true)
  R[hs:$name]=$(awk -v n="$ok" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  R[hsus:$name]=$(awk -v r="${R[hs:$name]}" -v c="${R[hscpu:$name]}" 'BEGIN { if (r > 0) printf "%.0f", c * 10000 / r; else print "-" }')
  grep -qv '^200$' "$out" && WARN+=("$name handshakes: non-200: $(grep -v '^200$' "$out" | sort | uniq -c | tr -s ' \n' ' ')")
  return 0
}
# Resumed handshakes: wrk keeps the TLS session across reconnects (both servers issue tickets).
run_rs() {
  local name=$1 out="$TMP/wrk-$1.txt"
  log "$name resumed TLS (wrk, Connection: close): ${DURATION}s x 32 conns"
  measure "$name" rs eval 'taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -H "Connection: close" \
    "https://127.0.0.1:${PORT[$name]}/1k.bin" >"$out" 2>&1'
  R[rs:$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  [[ -n ${R[rs:$name]} ]] || die "could not parse wrk output: $(cat "$out")"
  grep -qE '^ *(Socket errors|Non-2xx)' "$out" \
    && WARN+=("$name wrk: $(grep -E '^ *(Socket errors|Non-2xx)' "$out" | tr -s ' ' | tr '\n' ';')")
  return 0
}
START=$(now)
i=0
for t in $TESTS; do
  [[ $t =~ ^(h2|hs|rs)$ ]] || die "TESTS takes h2, hs and rs, got '$t'"
  rounds=1; [[ $t == h2 ]] && rounds=$ROUNDS
  for ((r = 0; r < rounds; r++)); do
    order=("${SERVERS[@]}")
    ((i++ % 2)) && order=($(printf '%s\n' "${SERVERS[@]}" | tac))  # alternate who goes first
    for s in "${order[@]}"; do "run_$t" "$s"; done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for s in "${SERVERS[@]}"; do if [[ -n ${ALL[$s]:-} ]]; then R[h2:$s]=$(echo "${ALL[$s]}" | median); fi; done

# --- 7. report ----------------------------------------------------------------
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a + 0 > 0 && b != "" && b != "-") printf "%.2f", b / a; else print "-" }'; }
row() { echo "| $1 | ${R[$2:nginx]:--} | ${R[$2:meridian]:--} | $(ratio "${R[$2:nginx]:-}" "${R[$2:meridian]:-}") |"; }
echo
echo "command: DURATION=$DURATION ROUNDS=$ROUNDS ONLY=${ONLY} TESTS=\"$TESTS\" MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*   (runs took $(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s)"
echo "nproc: $(nproc)   servers: core 0   clients: core 1   cert: ECDSA P-256, self-signed"
echo "h2:  taskset -c 1 h2load -c 32 -m 10 -D $DURATION --warm-up-time 2 https://127.0.0.1:PORT/1k.bin"
echo "hs:  taskset -c 1 curl -sk -Z --parallel-max 64 --no-sessionid --http1.1 -H 'Connection: close' (${DURATION}s)"
echo "rs:  taskset -c 1 wrk -t1 -c32 -d${DURATION}s -H 'Connection: close'"
want nginx && echo "nginx: $(nginx -v 2>&1)"
want meridian && echo "meridian: $("$BIN" version 2>&1 || echo unknown)"
echo "$(h2load --version | head -1); $(openssl version); $(curl --version | head -1 | cut -d' ' -f1-2); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo
echo "| test | nginx | meridian | ratio |"
echo "|---|---:|---:|---:|"
row "h2 1 KiB, 32 conns x 10 streams (req/s, median of $ROUNDS)" h2
row "h2 mean time for request (ms, last round)" lat
row "h2 server CPU busy (%, last round)" h2cpu
row "TLS handshakes/s (new connection per request)" hs
row "handshakes: server CPU busy (%)" hscpu
row "handshakes: server CPU us per handshake" hsus
row "resumed TLS connections/s (wrk, Connection: close)" rs
row "resumed: server CPU busy (%)" rscpu
echo
echo "ratio = meridian / nginx. A server CPU below ~95% means the client core was the limit."
for s in "${SERVERS[@]}"; do if [[ -n ${ALL[$s]:-} ]]; then echo "h2 rounds, $s: ${ALL[$s]}"; fi; done
for w in "${WARN[@]}"; do echo "warning: $w"; done
if want meridian && printf '%s\n' "${WARN[@]}" | grep -q '^meridian'; then
  echo; echo "--- last 30 lines of the meridian log:"; tail -30 "$TMP/meridian.log"
fi
