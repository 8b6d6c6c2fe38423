#!/usr/bin/env bash
# Memory per idle keep-alive HTTP/1.1 connection: Meridian vs nginx, one core / one event loop each.
# A client opens CONNECTIONS connections, sends one GET /1k.bin on each, reads the response and keeps
# them all open; the server's RSS before and ~2 s after, divided by CONNECTIONS, is the cost of one.
# Usage: bench/idle.sh [--build]
# Env:   CONNECTIONS=10000 SETTLE=2 ONLY=nginx|meridian MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNECTIONS=${CONNECTIONS:-10000}
SETTLE=${SETTLE:-2}
ONLY=${ONLY:-}
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_args "$@"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"

# Servers and client inherit this. 65536 when the hard limit allows, else the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= CONNECTIONS + 100)) || die "open files limit $(ulimit -n) < CONNECTIONS+100"

export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for t in nginx taskset curl python3; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  log "missing: ${missing[*]}; installing with apt"
  SUDO=(); ((EUID == 0)) || SUDO=(sudo)
  apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
      install -y nginx-light util-linux curl python3
  }
  apt_install || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 update && apt_install; } \
    || die "could not install tools"
  for t in nginx taskset python3; do command -v "$t" >/dev/null || die "$t still missing after install"; done
fi

if want meridian; then meridian_binary "$BUILD"; fi
bench_tmpdir meridian-idle
mkdir -p "$TMP/files"
head -c 1024 /dev/urandom >"$TMP/files/1k.bin"
read -r NGINX_PORT MERIDIAN_PORT ADMIN_PORT < <(free_ports 3)
declare -A PORT=([nginx]=$NGINX_PORT [meridian]=$MERIDIAN_PORT) SPID

# The client: connects (at most 200 handshakes in flight, so no listen backlog overflows), one
# request per connection, then prints "held N errors {...}" and sleeps with every socket open.
cat >"$TMP/client.py" <<'EOF'
import asyncio, collections, re, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
REQ = b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
held, errors = [], collections.Counter()
async def one(sem):
    async with sem:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(REQ)
            head = await r.readuntil(b"\r\n\r\n")
            if await r.readexactly(int(re.search(rb"(?i)\ncontent-length: *(\d+)", head)[1])) and \
               head.startswith(b"HTTP/1.1 200") and not re.search(rb"(?i)\nconnection: *close", head):
                held.append(w)
            else:
                errors[head.split(b"\r\n")[0].decode()] += 1; w.close()
        except Exception as e:
            errors[type(e).__name__] += 1
async def main():
    sem = asyncio.Semaphore(200)
    await asyncio.gather(*(one(sem) for _ in range(n)))
    print("held", len(held), "errors", dict(errors), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
EOF

# master_process off: the one process is the worker. worker_connections is twice CONNECTIONS: with
# fewer than 1/16 of them free nginx closes idle keep-alive connections ("reusing connections").
if want nginx; then
  cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
error_log $TMP/nginx-error.log;
pid $TMP/nginx.pid;
events { worker_connections $((2 * CONNECTIONS + 100)); }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 100000;
  types { application/octet-stream bin; }
  client_body_temp_path $TMP/client_body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096; root $TMP/files; }
}
EOF
  nginx -t -q -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" || die "nginx config test failed"
  taskset -c 0 nginx -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -p "$TMP" >"$TMP/nginx.out" 2>&1 &
  PIDS+=($!) SPID[nginx]=$!
  wait_ready nginx "$!" "http://127.0.0.1:$NGINX_PORT/1k.bin" "$TMP/nginx-error.log"
fi

if want meridian; then
  cat >"$TMP/meridian.yaml" <<EOF
server: {event_loops: 1}
limits: {max_connections: $((CONNECTIONS + 100))}
timeouts: {idle: 300s}
lifecycle: {drain_delay: 0s}
logging: {level: warning}
EOF
  "$BIN" validate "$TMP/meridian.yaml" >/dev/null || die "meridian rejected $TMP/meridian.yaml"
  MERIDIAN_ACCESS_LOG=off taskset -c 0 "$BIN" serve --config "$TMP/meridian.yaml" \
    --listen "127.0.0.1:$MERIDIAN_PORT" --admin "127.0.0.1:$ADMIN_PORT" --root "$TMP/files" >"$TMP/meridian.log" 2>&1 &
  PIDS+=($!) SPID[meridian]=$!
  wait_ready meridian "$!" "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/meridian.log"
fi

rss_kib() { awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
socket_fds() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
declare -A BEFORE AFTER HELD FDS PER
measure() {
  local name=$1 pid=${SPID[$1]} url="http://127.0.0.1:${PORT[$1]}/1k.bin" cpid s0 i
  for i in 1 2 3; do
    [[ $(curl -sf -o /dev/null -w '%{size_download}' "$url") == 1024 ]] || die "$name: GET /1k.bin failed"
  done
  sleep 0.5
  BEFORE[$name]=$(rss_kib "$pid") s0=$(socket_fds "$pid")
  log "$name: RSS ${BEFORE[$name]} KiB; opening $CONNECTIONS idle keep-alive connections"
  taskset -c 1 python3 "$TMP/client.py" "${PORT[$name]}" "$CONNECTIONS" >"$TMP/client-$name.out" 2>&1 &
  cpid=$!; PIDS+=($cpid)
  for ((i = 0; i < 1200; i++)); do
    grep -q '^held' "$TMP/client-$name.out" && break
    kill -0 "$cpid" 2>/dev/null || die "$name: client died: $(cat "$TMP/client-$name.out")"
    sleep 0.1
  done
  grep -q '^held' "$TMP/client-$name.out" || die "$name: client not done after 120 s"
  sleep "$SETTLE"
  AFTER[$name]=$(rss_kib "$pid") FDS[$name]=$(($(socket_fds "$pid") - s0))
  HELD[$name]=$(awk '{ print $2 }' "$TMP/client-$name.out")
  log "$name: $(cat "$TMP/client-$name.out"); server holds ${FDS[$name]} more sockets; RSS ${AFTER[$name]} KiB"
  PER[$name]=$(awk -v a="${BEFORE[$name]}" -v b="${AFTER[$name]}" -v n="$CONNECTIONS" 'BEGIN { printf "%.2f", (b - a) / n }')
  kill "$cpid"; wait "$cpid" 2>/dev/null || true
  sleep 1  # let the server see the closes before the next one is measured
}
for s in "${SERVERS[@]}"; do measure "$s"; done

echo
echo "command: CONNECTIONS=$CONNECTIONS SETTLE=$SETTLE ONLY=${ONLY} MERIDIAN_BIN=${MERIDIAN_BIN:-} $0 $*"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')   nproc: $(nproc)   servers: core 0, client: core 1   ulimit -n: $(ulimit -n)"
want nginx && echo "nginx: $(nginx -v 2>&1)"
want meridian && echo "meridian: $("$BIN" version 2>&1 || echo unknown)"
echo
echo "| server | RSS before KiB | RSS after KiB | connections held (client / server sockets) | KiB per connection |"
echo "|---|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
  echo "| $s | ${BEFORE[$s]} | ${AFTER[$s]} | ${HELD[$s]} / ${FDS[$s]} | ${PER[$s]} |"
done
if want nginx && want meridian; then
  echo; echo "ratio meridian/nginx: $(awk -v a="${PER[nginx]}" -v b="${PER[meridian]}" 'BEGIN { if (a > 0) printf "%.1f", b / a; else print "-" }')"
fi
for s in "${SERVERS[@]}"; do
  ((${HELD[$s]:-0} == CONNECTIONS && ${FDS[$s]:-0} >= CONNECTIONS)) || echo "warning: $s: $(cat "$TMP/client-$s.out"), server holds ${FDS[$s]} more sockets"
done
