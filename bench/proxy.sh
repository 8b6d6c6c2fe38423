#!/usr/bin/env bash
# Reverse-proxy benchmark: Meridian, nginx and HAProxy in front of the same upstream (an nginx serving
# from memory), each proxy one worker / one event loop pinned to core 0, all keeping upstream
# connections alive. HTTP/1.1 downstream with wrk, then (unless H2=0) HTTP/2 over TLS with h2load.
# Usage: bench/proxy.sh [--build]
# Env:   DURATION=10 CONNECTIONS=64 SIZES="1k 100k" ONLY=nginx,haproxy,meridian H2=1 MERIDIAN_BIN=path FORWARDING=1
#        ROUNDS=1
#        (ROUNDS=N: after the table's runs, the HTTP/1.1 1k pair nginx/meridian runs N-1 more times, the order
#        alternating, and the target is judged on the median of the N rounds' ratios: one pair of runs moves by
#        +-10% on these VMs.)
#        (FORWARDING=1: nginx and HAProxy send upstream the forwarding fields Meridian sends by default, the same
#        job; 0: their bare proxy_pass / server line. See nginx_proxy_conf in bench/common.sh.)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
SIZES=${SIZES:-"1k 100k"}
ONLY=${ONLY:-}
H2=${H2:-1}
ROUNDS=${ROUNDS:-1}
H2_CONNS=32 H2_STREAMS=10  # as bench/h2.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
ONLY='' bench_args "$@"  # only --build here: ONLY takes haproxy and comma lists, read below
SERVERS=()
for s in ${ONLY//,/ }; do [[ $s =~ ^(nginx|haproxy|meridian)$ ]] || die "ONLY takes nginx, haproxy, meridian (comma list), got '$s'"; done
for s in nginx haproxy meridian; do [[ -z $ONLY || ",$ONLY," == *",$s,"* ]] && SERVERS+=("$s"); done
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, got '$DURATION'"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, got '$CONNECTIONS'"
[[ $H2 == 0 || $H2 == 1 ]] || die "H2 must be 0 or 1, got '$H2'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
declare -A SIZE=([1k]=1024 [100k]=102400)
for f in $SIZES; do [[ -n ${SIZE[$f]:-} ]] || die "unknown size '$f' in SIZES (use 1k 100k)"; done

# Cores: proxy under test on 0, wrk/h2load on 1; the upstream gets core 2 when there is one, else
# it shares core 1 with the load generator.
(($(nproc) >= 2)) || die "needs at least 2 cores"
UP_CORE=1; (($(nproc) > 2)) && UP_CORE=2
# Idle upstream connections each proxy may keep: enough for every request in flight (wrk's
# connections, or h2load's connections x streams), so no proxy opens and closes upstream connections
# in steady state (nginx's keepalive and Meridian's pool.max_idle cap the idle ones).
KEEPALIVE=$CONNECTIONS
((H2 && H2_CONNS * H2_STREAMS > KEEPALIVE)) && KEEPALIVE=$((H2_CONNS * H2_STREAMS))

# --- 1. tools -------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need=(nginx wrk taskset curl python3) pkgs=(nginx-light wrk util-linux curl python3)
want haproxy && need+=(haproxy) pkgs+=(haproxy)
((H2)) && need+=(h2load openssl) pkgs+=(nghttp2-client openssl)
ensure_tools

# --- 2. meridian binary -----------------------------------------------------
if want meridian; then meridian_binary "$BUILD"; fi

# --- 3. temp dir, files, certificate, ports -----------------------------------
bench_tmpdir meridian-proxybench
mkdir -p "$TMP/files" "$TMP/upstream" "$TMP/nginx"
for f in $SIZES; do head -c "${SIZE[$f]}" /dev/urandom >"$TMP/files/$f"; done
if ((H2)); then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" \
    -out "$TMP/cert.pem" -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null \
    || die "openssl could not make the certificate"
  cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/haproxy.pem"  # HAProxy wants both in one file
fi
read -r UP_PORT STATUS_PORT NGINX_PORT NGINX_TLS HAPROXY_PORT HAPROXY_TLS MERIDIAN_PORT MERIDIAN_TLS ADMIN_PORT \
  < <(free_ports 9)
declare -A PORT=([nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [meridian]=$MERIDIAN_PORT)
declare -A TLSPORT=([nginx]=$NGINX_TLS [haproxy]=$HAPROXY_TLS [meridian]=$MERIDIAN_TLS) PID LOGF

# check NAME: every size through the proxy gives 200 and the right byte count (and over h2 when H2=1)
check() {
  local name=$1 f got
  for f in $SIZES; do
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${PORT[$name]}/$f") || true
    [[ $got == "200 ${SIZE[$f]}" ]] || die "$name: GET /$f gave '$got', expected '200 ${SIZE[$f]}' (log: ${LOGF[$name]})"
    ((H2)) || continue
    got=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code} %{size_download}' \
      "https://127.0.0.1:${TLSPORT[$name]}/$f") || true
    [[ $got == "2 200 ${SIZE[$f]}" ]] || die "$name: h2 GET /$f gave '$got', expected '2 200 ${SIZE[$f]}' (log: ${LOGF[$name]})"
  done
}
start() {  # start NAME LOG CMD...: run CMD on core 0, wait until it proxies /1k-ish, then check it
  local name=$1 logf=$2; shift 2
  taskset -c 0 "$@" >"$TMP/$name.out" 2>&1 &
  PIDS+=($!) PID[$name]=$! LOGF[$name]=$logf
  wait_ready "$name" "$!" "http://127.0.0.1:${PORT[$name]}/${SIZES%% *}" "$logf"
  check "$name"
}

# --- 4. upstream: nginx serving the files from memory (page cache + open_file_cache, sendfile) --
{
  nginx_upstream_prelude "$TMP/upstream"
  cat <<EOF
  server { listen 127.0.0.1:$UP_PORT reuseport; root $TMP/files; }
  server { listen 127.0.0.1:$STATUS_PORT; location / { stub_status; } }
}
EOF
} >"$TMP/upstream/nginx.conf"
nginx -t -q -e "$TMP/upstream/error.log" -c "$TMP/upstream/nginx.conf" -p "$TMP/upstream" || die "upstream nginx config test failed"
taskset -c "$UP_CORE" nginx -e "$TMP/upstream/error.log" -c "$TMP/upstream/nginx.conf" -p "$TMP/upstream" \
  >"$TMP/upstream/nginx.out" 2>&1 &
PIDS+=($!)
wait_ready upstream "$!" "http://127.0.0.1:$UP_PORT/${SIZES%% *}" "$TMP/upstream/error.log"
for f in $SIZES; do curl -s -o /dev/null "http://127.0.0.1:$UP_PORT/$f"; done  # into open_file_cache

# --- 5. nginx as proxy ----------------------------------------------------------
if want nginx; then
  listen="listen 127.0.0.1:$NGINX_PORT reuseport;"
  ((H2)) && listen+="
    listen 127.0.0.1:$NGINX_TLS ssl http2 reuseport;
    ssl_certificate $TMP/cert.pem; ssl_certificate_key $TMP/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
  nginx_proxy_conf "$TMP/nginx" "$UP_PORT" "$KEEPALIVE" "$listen" >"$TMP/nginx/nginx.conf"
  nginx -t -q -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" || die "nginx config test failed"
  start nginx "$TMP/nginx/error.log" nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
fi

# --- 6. HAProxy -------------------------------------------------------------------
if want haproxy; then
  h2bind=""
  # FORWARDING=1: the fields Meridian sends upstream by default (see nginx_proxy_conf in bench/common.sh).
  haproxy_forwarding=""
  ((${FORWARDING:-1})) && haproxy_forwarding='option forwardfor
  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header Forwarded "for=%[src];proto=%[ssl_fc,iif(https,http)];host=\"%[req.hdr(host)]\""
  http-request set-header Via "1.1 haproxy"'
  ((H2)) && h2bind="bind 127.0.0.1:$HAPROXY_TLS ssl crt $TMP/haproxy.pem alpn h2,http/1.1"
  # No "log" lines anywhere: HAProxy logs nothing. maxconn 4096 as nginx's worker_connections.
  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  timeout http-request 10s
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  $h2bind
  default_backend backend
backend backend
  $haproxy_forwarding
  server up 127.0.0.1:$UP_PORT
EOF
  haproxy -c -q -f "$TMP/haproxy.cfg" || die "haproxy config check failed"
  start haproxy "$TMP/haproxy.out" haproxy -db -f "$TMP/haproxy.cfg"
fi

# --- 7. Meridian ----------------------------------------------------------------------
if want meridian; then
  listeners="  - {name: http, address: \"127.0.0.1:$MERIDIAN_PORT\"}"
  ((H2)) && listeners+="
  - {name: https, address: \"127.0.0.1:$MERIDIAN_TLS\", tls: {certificates: [{cert: \"$TMP/cert.pem\", key: \"$TMP/key.pem\"}]}}"
  meridian_proxy_yaml "$listeners" "$ADMIN_PORT" "$UP_PORT" "$KEEPALIVE" >"$TMP/meridian.yaml"
  "$BIN" validate "$TMP/meridian.yaml" >"$TMP/meridian-validate.txt" 2>&1 \
    || die "meridian rejected $TMP/meridian.yaml (a binary without the proxy?): $(cat "$TMP/meridian-validate.txt")"
  # Same settings as bench/static.sh: one event loop, access log off, otherwise defaults.
  MERIDIAN_ACCESS_LOG=off MERIDIAN_EVENT_LOOPS=1 start meridian "$TMP/meridian.out" "$BIN" serve --config "$TMP/meridian.yaml"
fi

# --- 8. runs ------------------------------------------------------------------------
ticks() { awk '{ print $14 + $15 }' "/proc/${PID[$1]}/stat" 2>/dev/null || echo 0; }  # utime+stime, all threads
core1() { awk '$1 == "cpu1" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# steal0: core 0's time stolen by the hypervisor (another guest ran on the proxy's core), and all its time, in ticks
steal0() { awk '$1 == "cpu0" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
accepts() { curl -s "http://127.0.0.1:$STATUS_PORT/" | awk 'NR == 3 { print $1 }'; }
now() { date +%s.%N; }; HZ=$(getconf CLK_TCK)
declare -A R  # R[metric:proto:size:server]; metrics: rps mbs lat cpu core1 steal upc pcr (req/s per proxy core)
WARN=()
# measure NAME KEY SKIP CMD...: run CMD in the background and, from SKIP seconds in (past a client's
# own warm-up) to its end, record the proxy's CPU %, core 1 busy %, core 0's stolen % and the upstream
# connections opened (nginx stub_status accepts, minus the status request itself) in R[...:KEY:NAME].
measure() {
  local name=$1 key=$2 skip=$3 cmd c0 c1 t0 t1 a0 a1 b0 b1 s0 s1 g0 g1 h0 h1; shift 3
  "$@" &
  cmd=$! PIDS+=($!)
  sleep "$skip"
  a0=$(accepts); read -r b0 s0 < <(core1); read -r g0 h0 < <(steal0); c0=$(ticks "$name"); t0=$(now)
  wait "$cmd" || true
  c1=$(ticks "$name"); t1=$(now); read -r g1 h1 < <(steal0); read -r b1 s1 < <(core1); a1=$(accepts)
  R[steal:$key:$name]=$(awk -v a="$g0" -v b="$g1" -v x="$h0" -v y="$h1" 'BEGIN { if (y > x) printf "%.0f", 100 * (b - a) / (y - x); else print "-" }')
  R[cpu:$key:$name]=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v d="$(awk -v x="$t0" -v y="$t1" 'BEGIN { print y - x }')" \
    'BEGIN { printf "%.0f", 100 * (b - a) / hz / d }')
  R[core1:$key:$name]=$(awk -v a="$b0" -v b="$b1" -v x="$s0" -v y="$s1" 'BEGIN { if (y > x) printf "%.0f", 100 * (b - a) / (y - x); else print "-" }')
  R[upc:$key:$name]=$((a1 - a0 - 1))
  kill -0 "${PID[$name]}" 2>/dev/null || { echo "--- last 30 lines of ${LOGF[$name]}:" >&2
    tail -30 "${LOGF[$name]}" >&2 || true; die "$name died during the $key run"; }
}
run_h1() {  # run_h1 NAME SIZE [KEY]: KEY (default h1:SIZE) names the run in R
  local name=$1 f=$2 key=${3:-h1:$2} url="http://127.0.0.1:${PORT[$1]}/$2" out="$TMP/wrk-$1-$2.txt"
  log "$name HTTP/1.1 /$f: warmup 2s, then ${DURATION}s x ${CONNECTIONS} conns"
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
  measure "$name" "$key" 0 eval 'taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"'
  R[rps:$key:$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  R[mbs:$key:$name]=$(to_mbs "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")
  R[lat:$key:$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [[ -n ${R[rps:$key:$name]} ]] || die "could not parse wrk output: $(cat "$out")"
  if grep -qE '^ *(Socket errors|Non-2xx)' "$out"; then
    WARN+=("$name HTTP/1.1 $f: $(grep -E '^ *(Socket errors|Non-2xx)' "$out" | tr -s ' ' | tr '\n' ';')")
  fi
  return 0
}
run_h2() {
  local name=$1 f=$2 key=h2:$2 url="https://127.0.0.1:${TLSPORT[$1]}/$2" out="$TMP/h2load-$1-$2.txt"
  log "$name h2 /$f: 2s warm-up, then ${DURATION}s, $H2_CONNS conns x $H2_STREAMS streams"
  measure "$name" "$key" 2.2 eval 'taskset -c 1 h2load -c $H2_CONNS -m $H2_STREAMS -D "$DURATION" --warm-up-time 2 "$url" >"$out" 2>&1'
  R[rps:$key:$name]=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") printf "%.0f", $(i-1) }' "$out")
  R[mbs:$key:$name]=$(to_mbs "$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i+1) }' "$out")")
  R[lat:$key:$name]=$(to_ms "$(awk '/^time for request:/ { print $6 }' "$out")")
  [[ -n ${R[rps:$key:$name]} ]] || die "could not parse h2load output: $(tail -20 "$out")"
  grep -q '^Application protocol: h2$' "$out" || WARN+=("$name h2 $f: $(grep '^Application protocol' "$out" || echo 'no ALPN protocol')")
  awk '/^requests:/ && ($10 + $12 + $14 > 0 || $8 == 0) { bad = 1 }
       /^status codes:/ && ($5 + $7 + $9 > 0) { bad = 1 } END { exit !bad }' "$out" \
    && WARN+=("$name h2 $f: $(grep -E '^(requests|status codes):' "$out" | tr '\n' ';')")
  return 0
}
per_core() { R[pcr:$1]=$(awk -v r="${R[rps:$1]}" -v c="${R[cpu:$1]}" 'BEGIN { if (c > 0) printf "%.0f", 100 * r / c; else print "-" }'); }  # KEY:NAME
START=$(now)
PROTOS=h1; ((H2)) && PROTOS="h1 h2"
i=0
for p in $PROTOS; do
  for f in $SIZES; do
    n=${#SERVERS[@]} k=$((i++ % n))  # rotate who goes first (alternates when two)
    order=("${SERVERS[@]:k}" "${SERVERS[@]:0:k}")
    for s in "${order[@]}"; do
      "run_$p" "$s" "$f"
      per_core "$p:$f:$s"
    done
  done
done
# The extra rounds of the target's pair (ROUNDS > 1): keys h1:1k#2, h1:1k#3... (round 1 is the table's run).
ROUND_KEYS=()
if want nginx && want meridian && [[ " $SIZES " == *" 1k "* ]]; then
  ROUND_KEYS=(h1:1k)
  for ((r = 2; r <= ROUNDS; r++)); do
    order=(nginx meridian); ((r % 2 == 0)) && order=(meridian nginx)
    for s in "${order[@]}"; do
      run_h1 "$s" 1k "h1:1k#$r"
      per_core "h1:1k#$r:$s"
    done
    ROUND_KEYS+=("h1:1k#$r")
  done
fi
median() { tr ' ' '\n' | awk '$1 != "" && $1 != "-"' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# --- 9. report ----------------------------------------------------------------------
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a + 0 > 0 && b != "" && b != "-") printf "%.2f", b / a; else print "-" }'; }
v() { echo "${R[$1]:--}"; }
echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS SIZES=\"$SIZES\" ONLY=$ONLY H2=$H2 ROUNDS=$ROUNDS FORWARDING=${FORWARDING:-1} MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*   (runs took $(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')   nproc: $(nproc)"
if ((UP_CORE == 1)); then
  echo "cores: proxy under test on core 0; wrk/h2load AND the upstream nginx share core 1 (only 2 cores)"
else
  echo "cores: proxy under test on core 0; wrk/h2load on core 1; upstream nginx on core 2"
fi
echo "h1: taskset -c 1 wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency (after a 2 s warm-up)"
((H2)) && echo "h2: taskset -c 1 h2load -c $H2_CONNS -m $H2_STREAMS -D $DURATION --warm-up-time 2 (TLS, ECDSA P-256 self-signed)"
echo "upstream: nginx, 1 worker, sendfile + open_file_cache, keepalive_requests 1000000; each proxy keeps up to $KEEPALIVE idle upstream connections"
echo "nginx: $(nginx -v 2>&1)"
want haproxy && echo "haproxy: $(haproxy -v | head -1)"
want meridian && echo "meridian: $("$BIN" version 2>&1 || echo unknown)"
echo "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)$( ((H2)) && echo "; $(h2load --version | head -1); $(openssl version)")"
for p in $PROTOS; do
  label="HTTP/1.1 downstream (p99 ms)"; [[ $p == h2 ]] && label="HTTP/2 over TLS downstream (h2load mean ms)"
  echo
  echo "$label"
  echo
  echo "| size | nginx req/s | haproxy req/s | meridian req/s | meridian/nginx | meridian/haproxy | nginx ms | haproxy ms | meridian ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for f in $SIZES; do
    k=$p:$f
    echo "| $f | $(v rps:$k:nginx) | $(v rps:$k:haproxy) | $(v rps:$k:meridian) |" \
      "$(ratio "$(v rps:$k:nginx)" "$(v rps:$k:meridian)") | $(ratio "$(v rps:$k:haproxy)" "$(v rps:$k:meridian)") |" \
      "$(v lat:$k:nginx) | $(v lat:$k:haproxy) | $(v lat:$k:meridian) |"
  done
done
echo
echo "Per run: MB/s, the proxy's CPU (core 0), core 1 busy (load generator$( ((UP_CORE == 1)) && echo " + upstream")), core 0's time the"
echo "hypervisor gave another guest (steal: a run with much of it says more about the host than the proxy), upstream"
echo "connections opened during the measured part"
echo
echo "| run | proxy | req/s | MB/s | proxy CPU % | req/s per proxy core | core 1 busy % | core 0 stolen % | upstream conns opened |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for p in $PROTOS; do
  for f in $SIZES; do
    for s in "${SERVERS[@]}"; do
      k=$p:$f:$s
      echo "| $p $f | $s | $(v rps:$k) | $(v mbs:$k) | $(v cpu:$k) | $(v pcr:$k) | $(v core1:$k) | $(v steal:$k) | $(v upc:$k) |"
    done
  done
done
echo
echo "ratio = meridian / other (req/s). A proxy CPU well below ~95% means core 1 (the client side) was the limit."
echo "req/s per proxy core = req/s / proxy CPU: the inverse of the proxy's CPU per request, which that limit does not"
echo "move (a proxy held back by the client shows its req/s, not what its core could do)."
if [[ -n ${R[rps:h1:1k:nginx]:-} && -n ${R[rps:h1:1k:meridian]:-} ]]; then
  if ((ROUNDS > 1)); then
    echo
    echo "Rounds of the target's pair (HTTP/1.1 1k; round 1 is the table's run; even rounds ran meridian first)"
    echo
    echo "| round | nginx req/s | meridian req/s | meridian/nginx | nginx CPU % | meridian CPU % | per proxy core meridian/nginx | core 0 stolen % (nginx, meridian) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    rs=() cs=() n=0
    for k in "${ROUND_KEYS[@]}"; do
      n=$((n + 1))
      rr=$(ratio "$(v rps:$k:nginx)" "$(v rps:$k:meridian)") cr=$(ratio "$(v pcr:$k:nginx)" "$(v pcr:$k:meridian)")
      rs+=("$rr") cs+=("$cr")
      echo "| $n | $(v rps:$k:nginx) | $(v rps:$k:meridian) | $rr | $(v cpu:$k:nginx) | $(v cpu:$k:meridian) | $cr | $(v steal:$k:nginx), $(v steal:$k:meridian) |"
    done
    r=$(echo "${rs[*]}" | median) c=$(echo "${cs[*]}" | median)
    met=$(printf '%s\n' "${rs[@]}" | awk '$1 >= 0.8 { m++ } END { print m + 0 }')
    echo
    echo "target (HTTP/1.1, 1k: meridian >= 0.8x nginx), median of $ROUNDS rounds: $r, $(awk -v r="$r" 'BEGIN { print (r >= 0.8) ? "met" : "NOT met" }') ($met of $ROUNDS rounds >= 0.8)"
    echo "per proxy core (HTTP/1.1, 1k): meridian/nginx, median of $ROUNDS rounds: $c"
  else
    r=$(ratio "${R[rps:h1:1k:nginx]}" "${R[rps:h1:1k:meridian]}")
    echo "target (HTTP/1.1, 1k: meridian >= 0.8x nginx): $r, $(awk -v r="$r" 'BEGIN { print (r >= 0.8) ? "met" : "NOT met" }')"
    echo "per proxy core (HTTP/1.1, 1k): meridian/nginx $(ratio "$(v pcr:h1:1k:nginx)" "$(v pcr:h1:1k:meridian)")"
  fi
fi
if want nginx; then
  n=$(grep -c 'buffered to a temporary file' "$TMP/nginx/error.log" || true)
  ((n)) && echo "note: nginx (proxy_buffering on) wrote $n upstream responses to temporary files"
fi
for w in "${WARN[@]}"; do echo "warning: $w"; done
for k in "${!R[@]}"; do
  [[ $k == upc:* && ${R[$k]} =~ ^[0-9]+$ ]] && ((R[$k] > KEEPALIVE)) && echo "warning: ${k#upc:}: the proxy opened ${R[$k]} upstream connections during the run (upstream keep-alive not holding)"
done
if want meridian && printf '%s\n' "${WARN[@]}" | grep -q '^meridian'; then
  echo; echo "--- last 30 lines of the meridian log:"; tail -30 "$TMP/meridian.out"
fi
exit 0
