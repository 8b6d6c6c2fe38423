# Shared by the bench scripts: messages, the Meridian binary, and a temp dir cleaned up on exit
# together with every server started (their PIDs go in PIDS). Source it; it defines functions only.

die() { echo "error: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# Sets BIN: $MERIDIAN_BIN, or .build/release/meridian (built when missing or when $1 is 1).
meridian_binary() {
  local force_build=$1
  BIN=${MERIDIAN_BIN:-$ROOT/.build/release/meridian}
  if [[ -z ${MERIDIAN_BIN:-} ]] && { ((force_build)) || [[ ! -x $BIN ]]; }; then
    log "building meridian (release)"
    "$ROOT/scripts/build-release.sh" || die "swift build failed"
  fi
  [[ -x $BIN ]] || die "meridian binary not found/executable: $BIN"
}

# Sets TMP to a fresh directory; on exit, kills and waits for PIDS and removes TMP.
bench_tmpdir() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}

# Reads the command line (only --build) and ONLY; sets BUILD, SERVERS and defines want().
bench_args() {
  BUILD=0
  for arg in "$@"; do
    case $arg in
      --build) BUILD=1 ;;
      *) die "unknown argument: $arg (usage: $0 [--build])" ;;
    esac
  done
  case ${ONLY:-} in ""|nginx|meridian) ;; *) die "ONLY must be nginx or meridian, got '$ONLY'" ;; esac
  SERVERS=(nginx meridian)
  [[ -n ${ONLY:-} ]] && SERVERS=("$ONLY")
  return 0
}

want() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }

# free_ports N: prints N free loopback ports (bound once to port 0, then released).
free_ports() {
  python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1", 0)) for x in s]
print(*(x.getsockname()[1] for x in s))' "$1"
}

# wait_ready NAME PID URL LOG: poll URL (https without verification too) until 2xx; fail with the
# log's tail if the process dies or 10 s pass.
wait_ready() {
  local name=$1 pid=$2 url=$3 logf=$4 i
  for ((i = 0; i < 100; i++)); do
    curl -skf -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -30 "$logf" >&2 || true; die "$name exited during startup (log: $logf)"; }
    sleep 0.1
  done
  tail -30 "$logf" >&2 || true
  die "$name did not become ready at $url after 10s"
}

# start_redis CORE PORT: a throwaway redis-server (no persistence) pinned to CORE, in PIDS; sets REDIS_PID and
# waits until it answers PING (fails with its log's tail if it dies or 10 s pass).
start_redis() {
  local core=$1 port=$2 i
  taskset -c "$core" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$TMP" \
    --logfile "$TMP/redis.log" --daemonize no >"$TMP/redis.out" 2>&1 &
  REDIS_PID=$!
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || { tail -20 "$TMP/redis.log" >&2 || true; die "redis-server exited during startup"; }
    sleep 0.1
  done
  die "redis-server did not answer PING after 10s"
}

# wrk's sizes and durations in one unit, for the tables.
to_mbs() { # 1.63GB / 512.34MB / 10.00KB / 123.00B (optionally .../s) -> MB/s (MiB-based, as wrk prints)
  awk -v v="${1%/s}" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1/1024 : (u == "TB") ? 1048576 : 1/1048576
    printf "%.2f", n * m }'
}
to_ms() { # 850.00us / 5.02ms / 1.20s / 2.00m -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : 0
    printf "%.2f", n * m }'
}

# ensure_tools: installs the Debian packages `pkgs` when a command of `need` (arrays set by the caller) is missing.
ensure_tools() {
  local missing=() t
  for t in "${need[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
  ((${#missing[@]})) || return 0
  log "missing: ${missing[*]}; installing (waits for any running apt/dpkg)"
  local SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y "${pkgs[@]}"
  }
  apt_install || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 update && apt_install; } \
    || die "could not install tools"
  for t in "${need[@]}"; do command -v "$t" >/dev/null || die "$t still missing after install"; done
}

# nginx_upstream_prelude DIR: the start of a one-worker nginx.conf that serves files from memory (sendfile,
# open_file_cache, long keep-alive), with its logs, pid and temp paths in DIR, up to inside `http {`; the
# caller prints its server lines and the closing brace.
nginx_upstream_prelude() {
  local d=$1
  cat <<EOF
daemon off; master_process off; worker_processes 1;
error_log $d/error.log; pid $d/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 300s;
  open_file_cache max=1000 inactive=600s; open_file_cache_valid 600s;
  default_type application/octet-stream;
  client_body_temp_path $d/client_body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
EOF
}

# nginx_proxy_conf DIR UP_PORT KEEPALIVE LISTEN: a one-worker nginx.conf (logs, pid and temp paths in DIR) that
# proxies / to 127.0.0.1:UP_PORT keeping up to KEEPALIVE idle upstream connections; LISTEN is the server's listen
# (and TLS) directives. bench/proxy.sh and bench/cpu-per-request.sh measure nginx as a proxy with it.
# FORWARDING=1 (the default): nginx sends upstream the fields Meridian's proxy sends by default (the client's Host,
# X-Forwarded-For/-Proto/-Host, Forwarded, Via: the reverse-proxy setup nginx's own guide gives), so both proxies
# do the same job; FORWARDING=0 measures nginx's bare proxy_pass (Host: backend, nothing added).
nginx_proxy_conf() {
  local d=$1 up=$2 keepalive=$3 listen=$4 forwarding=""
  [[ ${FORWARDING:-1} == 0 || ${FORWARDING:-1} == 1 ]] || die "FORWARDING must be 0 or 1, got '$FORWARDING'"
  ((${FORWARDING:-1})) && forwarding='proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\"$http_host\"";
      proxy_set_header Via "1.1 nginx";'
  cat <<EOF
daemon off; master_process off; worker_processes 1;
error_log $d/error.log warn; pid $d/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_requests 1000000; http2_max_concurrent_streams 128;
  client_body_temp_path $d/client_body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  upstream backend { server 127.0.0.1:$up; keepalive $keepalive; keepalive_requests 1000000; }
  server {
    $listen
    location / {
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      $forwarding
    }
  }
}
EOF
}

# meridian_bench_prelude LISTENERS ADMIN_PORT: the start of a one-event-loop Meridian config for a benchmark (access
# log off, no drain delay); LISTENERS are the lines of its `listeners:` list. The caller adds its hosts (and upstreams).
meridian_bench_prelude() {
  local listeners=$1 admin=$2
  cat <<EOF
listeners:
$listeners
admin: {address: "127.0.0.1:$admin"}
server: {event_loops: 1}
lifecycle: {drain_delay: 0s}
telemetry: {access_log: {enabled: false}}
EOF
}

# meridian_proxy_yaml LISTENERS ADMIN_PORT UP_PORT MAX_IDLE: a one-event-loop Meridian config, access log off, that
# proxies / to the cluster `backend` (127.0.0.1:UP_PORT, up to MAX_IDLE idle connections); LISTENERS are the lines
# of its `listeners:` list.
meridian_proxy_yaml() {
  local listeners=$1 admin=$2 up=$3 idle=$4
  meridian_bench_prelude "$listeners" "$admin"
  cat <<EOF
upstreams:
  - name: backend
    endpoints: ["127.0.0.1:$up"]
    pool: {max_idle: $idle, max_requests_per_connection: 1000000}
hosts:
  - default: true
    routes:
      - match: {prefix: /}
        proxy: backend
EOF
}
