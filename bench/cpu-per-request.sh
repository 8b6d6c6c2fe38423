#!/usr/bin/env bash
# Server CPU time per 1 KiB HTTP/1.1 request for one or more Meridian binaries, run back to back
# in alternating order: a steadier measure than req/s on a host whose neighbours move the numbers
# (the CPU time the server spent, read from /proc, divided by the requests h2load completed).
# TARGET=proxy: each binary proxies the 1 KiB to an nginx upstream serving it from memory (on core 1,
# beside h2load), and the word `nginx` as a BIN measures nginx as that proxy in the same rounds (FORWARDING=1,
# the default: nginx sends the forwarding fields Meridian sends; 0: its bare proxy_pass; see bench/common.sh).
# `ceiling` as a BIN (TARGET=proxy) measures bench/nio-proxy-ceiling, the least a SwiftNIO proxy can do per
# request (head found by its blank line, a fixed head upstream, the response's bytes back unchanged): the floor
# under anything built on NIO's channels. Built here on first use (`swift build -c release`, ~2 minutes).
# TARGET=fixed: the server answers with a fixed 1 KiB body from memory, Meridian's `respond` action against nginx's
# `return 200` (the word `nginx` as a BIN): what the request layer costs per request, with no file and no upstream.
# MODE=counts: instead of time, what the server calls per request, counted by uprobes (`perf probe` on the Swift
# runtime's swift_retain, swift_release, swift_allocObject and its retain slow path incrementSlow, glibc's malloc
# (and tcmalloc's, which the meridian binary links)
# and clock_gettime) over REQUESTS
# requests: the same numbers run after run, so a change worth 1% shows where the time per request does not.
# Needs root and perf (the uprobes slow the server ~10x while counting; REQUESTS=100000 is plenty).
# MODE=profile: `perf record -F 4999 -e cpu-clock -g` of each server over the REQUESTS (kept as
# $PROFILE_DIR/N-NAME.data, PROFILE_DIR=/tmp/meridian-profiles by default) and its top symbols by self time.
# `lean` as a BIN (TARGET=proxy) runs the same tool with --lean: Meridian's per-request work on this route written as
# lean as NIO allows (request and response heads as offsets, no object per request; see its Lean.swift), the price
# of a redesign measured before building it; `lean-strings`, `lean-objects` and `lean-strings-objects` put back the
# request head as Strings in HTTPHeaders, an object and a closure per request, or both, to price each.
# Usage: bench/cpu-per-request.sh BIN [BIN...]      (BIN may be `nginx` with TARGET=proxy or fixed, `ceiling` or `lean*` with proxy)
# BROWSER=1: every measured request carries a browser's fields (Connection: keep-alive, a Chrome User-Agent, Accept,
# Accept-Language) instead of h2load's few short ones.
# Env:   REQUESTS=300000 ROUNDS=3 CONNECTIONS=64 TARGET=static|proxy|fixed MODE=time|counts|profile BROWSER=0|1
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
REQUESTS=${REQUESTS:-300000}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
TARGET=${TARGET:-static}
MODE=${MODE:-time}
BROWSER=${BROWSER:-0}
[[ $BROWSER == 0 || $BROWSER == 1 ]] || die "BROWSER must be 0 or 1, got '$BROWSER'"
HEAD_FIELDS=()
if ((BROWSER)); then
  HEAD_FIELDS=(-H "Connection: keep-alive"
    -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" -H "Accept-Language: en-US,en;q=0.9")
fi
# load PORT: the measured requests (h2load on core 1), its report on stdout.
load() { taskset -c 1 h2load --h1 "${HEAD_FIELDS[@]}" -n "$REQUESTS" -c "$CONNECTIONS" "http://127.0.0.1:$1/1k.bin" 2>&1; }
(($# > 0)) || die "usage: $0 BIN [BIN...]"
is_lean() { [[ $1 =~ ^lean(-strings)?(-objects)?$ ]]; }  # the nio-proxy-ceiling tool's --lean modes
[[ $TARGET == static || $TARGET == proxy || $TARGET == fixed ]] || die "TARGET must be static, proxy or fixed, got '$TARGET'"
[[ $MODE == time || $MODE == counts || $MODE == profile ]] || die "MODE must be time, counts or profile, got '$MODE'"
for bin in "$@"; do
  [[ ($bin == nginx || $bin == ceiling) && $TARGET == proxy ]] && continue
  is_lean "$bin" && [[ $TARGET == proxy ]] && continue
  [[ $bin == nginx && $TARGET == fixed ]] && continue
  [[ -x $bin ]] || die "not an executable: $bin (\`nginx\` only with TARGET=proxy or fixed, \`ceiling\` and \`lean\` only with proxy)"
done
export PATH="$PATH:/usr/sbin"
command -v h2load >/dev/null || scripts/ensure-packages.sh h2load:nghttp2-client
if [[ $TARGET != static ]]; then command -v nginx >/dev/null || scripts/ensure-packages.sh nginx:nginx-light; fi
CEILING="$ROOT/bench/nio-proxy-ceiling"
if [[ $TARGET == proxy && (" $* " == *" ceiling "* || " $* " == *" lean"*) ]]; then  # (any lean mode)
  swift build -c release --package-path "$CEILING" >&2 || die "building $CEILING failed"
fi
bench_tmpdir meridian-cpu
head -c 1024 /dev/urandom >"$TMP/1k.bin"
# TARGET=fixed's body: 1024 bytes that need no quoting in nginx's config or YAML.
FIXED_BODY=$(head -c 768 /dev/urandom | base64 -w0)
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

# start BIN PORT: the server answering /1k.bin on PORT (the file, a fixed body with TARGET=fixed, or proxied to the
# upstream); sets SERVER_PID
start() {
  local bin=$1 port=$2
  if [[ $bin == nginx && $TARGET == fixed ]]; then
    mkdir -p "$TMP/nginx"
    {
      nginx_upstream_prelude "$TMP/nginx"
      echo "  server { listen 127.0.0.1:$port reuseport; location / { return 200 \"$FIXED_BODY\"; } }"
      echo "}"
    } >"$TMP/nginx/nginx.conf"
    taskset -c 0 nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/server.log" 2>&1 &
  elif [[ $bin == nginx ]]; then
    nginx_proxy_conf "$TMP/nginx" "$UP_PORT" "$CONNECTIONS" "listen 127.0.0.1:$port reuseport;" >"$TMP/nginx/nginx.conf"
    taskset -c 0 nginx -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/server.log" 2>&1 &
  elif [[ $bin == ceiling ]]; then
    taskset -c 0 "$CEILING/.build/release/NIOProxyCeiling" "$port" "$UP_PORT" >"$TMP/server.log" 2>&1 &
  elif is_lean "$bin"; then
    taskset -c 0 "$CEILING/.build/release/NIOProxyCeiling" "$port" "$UP_PORT" "--$bin" >"$TMP/server.log" 2>&1 &
  elif [[ $TARGET == fixed ]]; then
    {
      meridian_bench_prelude "  - {name: http, address: \"127.0.0.1:$port\"}" 0
      cat <<EOF
hosts:
  - default: true
    routes:
      - match: {prefix: /}
        respond: {status: 200, headers: {content-type: application/octet-stream}, body: "$FIXED_BODY"}
EOF
    } >"$TMP/fixed.yaml"
    MERIDIAN_EVENT_LOOPS=1 MERIDIAN_ACCESS_LOG=off taskset -c 0 "$bin" serve --config "$TMP/fixed.yaml" >"$TMP/server.log" 2>&1 &
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

start_warm() {  # BIN: started on a free port and warmed up with 20,000 requests; sets SERVER_PORT and SERVER_PID
  SERVER_PORT=$(free_ports 1)
  start "$1" "$SERVER_PORT"
  wait_ready "$1" "$SERVER_PID" "http://127.0.0.1:$SERVER_PORT/1k.bin" "$TMP/server.log"
  taskset -c 1 h2load --h1 -n 20000 -c "$CONNECTIONS" "http://127.0.0.1:$SERVER_PORT/1k.bin" >/dev/null 2>&1
}

measure() {  # BIN: sets US, SS, TS (user, system, total µs per request) and RATE (req/s)
  local bin=$1 port pid u0 s0 u1 s1 rate
  start_warm "$bin"
  port=$SERVER_PORT pid=$SERVER_PID
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  rate=$(load "$port" | awk '/^finished/ {print $4}')
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
  # On any exit, the probes go and then the servers (errexit off first: deleting a group with no probes fails, and
  # an error inside an EXIT trap would stop it before bench_cleanup, leaving the upstream nginx running).
  counts_cleanup() {
    set +e
    local g
    for g in 'probe_libc:*' 'probe_libswiftCore:*' 'sw*:*' 'probe_libtcmalloc_minimal:*'; do perf probe -q -d "$g" 2>/dev/null; done
    bench_cleanup
  }
  trap counts_cleanup EXIT
  perf probe -q -d 'probe_libc:*' 2>/dev/null || true
  perf probe -q -d 'probe_libswiftCore:*' 2>/dev/null || true
  perf probe -q -d 'sw*:*' 2>/dev/null || true
  perf probe -q -d 'probe_libtcmalloc_minimal:*' 2>/dev/null || true
  libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ && !n++ {print $NF}')
  add_probe "$libc" malloc
  # Meridian links tcmalloc (Sources/meridian/Allocator.swift): its malloc is tcmalloc's, and glibc's counts 0 there.
  tcmalloc=$(ldconfig -p | awk '/libtcmalloc_minimal\.so\.4 .*x86-64/ && !n++ {print $NF}')
  [[ -n $tcmalloc ]] && add_probe "$tcmalloc" tc_malloc  # (malloc's address; probing `malloc` there fails)
  add_probe "$libc" clock_gettime
  # The Swift runtime's probes go on libswiftCore.so, or on the binary itself when the runtime is linked into it
  # (--static-swift-stdlib, as scripts/build-release.sh builds): one group per such binary (sw1, sw2, ...), so
  # each binary's column reads its own counts (event names are unique across groups, hence the _bN suffix).
  # EVENT[BIN:SYMBOL] names the event COUNTS reads for BIN.
  declare -A EVENT=()
  k=0
  for bin in "$@"; do
    [[ $bin == nginx ]] && continue
    [[ $bin == ceiling ]] || is_lean "$bin" && bin="$CEILING/.build/release/NIOProxyCeiling"
    k=$((k + 1))
    object=$(ldd "$bin" | awk '/libswiftCore\.so/ && !n++ {print $3}')
    group=probe_libswiftCore suffix=""
    if [[ -z $object ]]; then
      readelf -sW "$bin" | awk '$8 == "swift_retain" {f = 1} END {exit !f}' || die "$bin: no libswiftCore.so and no swift_retain symbol to probe"
      object=$(realpath "$bin") group=sw$k suffix=_b$k
    elif [[ -n ${SHARED:-} ]]; then  # libswiftCore.so's probes, already added for an earlier binary
      for sym in swift_retain swift_release swift_allocObject incrementSlow; do
        [[ -n ${EVENT[$SHARED:$sym]:-} ]] && EVENT[$bin:$sym]=${EVENT[$SHARED:$sym]}
      done
      continue
    else
      SHARED=$bin
    fi
    for sym in swift_retain swift_release swift_allocObject; do
      # (By address: perf looks a name up in the binary's DWARF, which has no entry for the runtime's functions.)
      at=$(readelf -sW "$object" | awk -v s="$sym" '$8 == s && $2 !~ /^0+$/ && !n++ {print $2}')
      [[ -n $at ]] || die "$object: no address for $sym"
      out=$(perf probe -q -x "$object" -a "$group:$sym$suffix=$(printf '0x%x' "0x$at")" 2>&1) \
        || die "perf probe -x $object -a $sym failed: $out"
      EVENT[$bin:$sym]=$group:$sym$suffix
    done
    # The runtime's slow path of a retain (an object with a side table, which a weak reference to it gives): a
    # hidden symbol, probed at its address.
    slow=$(readelf -sW "$object" | awk '$8 ~ /RefCountInlinednessE1EEEE13incrementSlowES3_j$/ {print $2}')
    if [[ -n $slow ]]; then
      out=$(perf probe -q -x "$object" -a "$group:incrementSlow$suffix=$(printf '0x%x' "0x$slow")" 2>&1) \
        || die "perf probe incrementSlow failed: $out"
      EVENT[$bin:incrementSlow]=$group:incrementSlow$suffix
    fi
  done
  PROBES+=(swift:swift_retain swift:swift_release swift:swift_allocObject swift:incrementSlow)
fi

count() {  # BIN: sets COUNTS (per request, in PROBES' order)
  local bin=$1 port pid events p e real=$1
  [[ $bin == ceiling ]] || is_lean "$bin" && real="$CEILING/.build/release/NIOProxyCeiling"
  local -a mine=()  # PROBES as this server's events ("" where it has none: nginx has no Swift runtime)
  for p in "${PROBES[@]}"; do
    if [[ $p == swift:* ]]; then
      mine+=("${EVENT[$real:${p#swift:}]:-}")
    else
      mine+=("$p")
    fi
  done
  start_warm "$bin"
  port=$SERVER_PORT pid=$SERVER_PID
  events=$(printf '%s\n' "${mine[@]}" | grep -v '^$' | paste -sd,)
  perf stat -x, -e "$events" -p "$pid" -o "$TMP/counts.txt" &
  local stat=$!
  sleep 0.5
  load "$port" >/dev/null
  kill -INT "$stat"; wait "$stat" 2>/dev/null || true
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  COUNTS=""
  for e in "${mine[@]}"; do
    COUNTS+=" | $(awk -F, -v e="$e" -v n="$REQUESTS" '$3 == e {v = $1} END {printf "%.2f", (v == "" || v == "<not counted>" ? 0 : v) / n}' "$TMP/counts.txt")"
  done
}

profile() {  # N BIN: records the server under load into $PROFILE_DIR/N-NAME.data, prints its top symbols
  local n=$1 bin=$2 port pid rec out
  start_warm "$bin"
  port=$SERVER_PORT pid=$SERVER_PID
  out="$PROFILE_DIR/$n-$(basename "$bin").data"
  perf record -q -F 4999 -e cpu-clock -g -p "$pid" -o "$out" 2>"$TMP/perf.log" &
  rec=$!
  sleep 0.5
  load "$port" >/dev/null
  kill -INT "$rec"; wait "$rec" 2>/dev/null || true
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  echo "### $bin ($out)"
  perf report -i "$out" --no-children --sort symbol --stdio 2>/dev/null | grep -E "^ +[0-9]" | sed -E "s/ +- +- *$//" | head -25
  echo
}

if [[ $MODE == profile ]]; then
  command -v perf >/dev/null || scripts/ensure-packages.sh perf:linux-perf
  PROFILE_DIR=${PROFILE_DIR:-/tmp/meridian-profiles}
  mkdir -p "$PROFILE_DIR"
  n=0
  for bin in "$@"; do n=$((n + 1)); profile "$n" "$bin"; done
elif [[ $MODE == counts ]]; then
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
echo "command: BROWSER=$BROWSER TARGET=$TARGET MODE=$MODE REQUESTS=$REQUESTS ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS$([[ $TARGET == proxy ]] && echo " FORWARDING=${FORWARDING:-1}") $0 $*"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)   h2load --h1 -c $CONNECTIONS on core 1, server on core 0$([[ $TARGET == proxy ]] && echo ", upstream nginx on core 1")"
