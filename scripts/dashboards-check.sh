#!/usr/bin/env bash
# Checks that every query of every Grafana dashboard in dashboards/ returns data from a running
# Meridian: starts a throwaway Prometheus of its own that scrapes METRICS_TARGET every second, waits
# for ~8 s of samples, then runs scripts/dashboards_check.py (lint + every panel's expr as an instant
# query + exemplars). Exits 0 only when every query returned at least one series.
#
# Usage: scripts/dashboards-check.sh METRICS_TARGET [-- extra dashboards_check.py flags]
#   METRICS_TARGET: HOST:PORT of Meridian's admin listener (e.g. 127.0.0.1:9901), or a full URL
#   such as http://127.0.0.1:9901/metrics. Meridian should be under load while this runs.
# Env:
#   DASHBOARDS_CHECK_SAMPLES  scrapes to wait for before querying (default 9, i.e. ~8 s of data)
#   DASHBOARDS_CHECK_PORT     port for the throwaway Prometheus (default: a random free port)
#   DASHBOARDS_CHECK_KEEP=1   keep the temp dir (config, TSDB, prometheus.log) and print its path
#
# Installs Debian's prometheus package when `prometheus` is not on PATH. The Prometheus this
# starts listens on 127.0.0.1 only, uses its own config and TSDB in a temp dir, and is stopped on
# exit; a system prometheus service, if any, is left alone.
set -euo pipefail

usage() { echo "usage: $0 METRICS_TARGET [-- dashboards_check.py flags]   (e.g. 127.0.0.1:9901)" >&2; exit 2; }
(($# >= 1)) || usage
target_arg=$1
shift
[[ ${1:-} == -- ]] && shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
samples=${DASHBOARDS_CHECK_SAMPLES:-9}
note() { echo "dashboards-check: $*"; }
fail() { echo "dashboards-check: FAIL: $*" >&2; exit 1; }

# --- METRICS_TARGET -> scheme, host:port, path ---------------------------------------------------
scheme=http
metrics_path=/metrics
t=$target_arg
if [[ $t == *://* ]]; then
  scheme=${t%%://*}
  t=${t#*://}
fi
if [[ $t == */* ]]; then
  metrics_path=/${t#*/}
  t=${t%%/*}
fi
[[ $t == *:* ]] || fail "METRICS_TARGET must include a port: $target_arg"
hostport=$t

# --- prometheus binary ----------------------------------------------------------------------------
if ! command -v prometheus >/dev/null 2>&1; then
  note "prometheus not found; installing Debian's prometheus package"
  SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # The package's postinst starts a system service where it can. This script never uses that
  # service; where no policy-rc.d forbids starting services, one is put in place for the install
  # only, so that none is started behind our back.
  policy_added=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  install_ok=1
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus >/dev/null \
    || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq \
         && "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus >/dev/null; } \
    || install_ok=
  [[ -n $policy_added ]] && "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
  [[ -n $install_ok ]] && command -v prometheus >/dev/null 2>&1 || fail "could not install prometheus"
fi
prom_bin=$(command -v prometheus)
version=$(prometheus --version 2>&1 | sed -n 's/^prometheus, version \([0-9][0-9.]*\).*/\1/p' | head -n1)
[[ -n $version ]] || fail "cannot read the version from 'prometheus --version'"
IFS=. read -r vmaj vmin _ <<<"$version"
vnum=$((vmaj * 1000 + vmin))
note "using $prom_bin, Prometheus $version"

# Feature detection by version:
#   exemplar storage (--enable-feature=exemplar-storage): 2.26+ (Debian bookworm ships 2.42).
#   scrape_protocols in the scrape config: 2.49+. Before that Prometheus always sends an Accept
#   header that prefers OpenMetrics 1.0.0, so exemplars are scraped without it.
flags=()
((vnum >= 2026)) && flags+=(--enable-feature=exemplar-storage) \
  || note "WARN: Prometheus $version has no exemplar storage; exemplars will not be checked"
protocols=
((vnum >= 2049)) && protocols="    scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]"

# --- throwaway Prometheus --------------------------------------------------------------------------
tmp=$(mktemp -d /tmp/dashboards-check.XXXXXX)
prom_pid=
check_pid=
cleanup() {
  local rc=$?
  if [[ -n $check_pid ]] && kill -0 "$check_pid" 2>/dev/null; then
    kill "$check_pid" 2>/dev/null || true
    wait "$check_pid" 2>/dev/null || true
  fi
  if [[ -n $prom_pid ]] && kill -0 "$prom_pid" 2>/dev/null; then
    kill "$prom_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$prom_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$prom_pid" 2>/dev/null || true
    wait "$prom_pid" 2>/dev/null || true
  fi
  if [[ ${DASHBOARDS_CHECK_KEEP:-} == 1 ]]; then
    note "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$tmp/prom.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: meridian
    scheme: $scheme
    metrics_path: $metrics_path
$protocols
    static_configs:
      - targets: ['$hostport']
EOF

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A random free port can be taken between the probe and Prometheus' bind: retry with a new one.
started=
for attempt in 1 2 3 4 5; do
  port=${DASHBOARDS_CHECK_PORT:-$(free_port)}
  rm -rf "$tmp/data"
  "$prom_bin" --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1h \
    --log.level=warn "${flags[@]}" >"$tmp/prometheus.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$prom_pid" 2>/dev/null || break
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
      started=1
      break
    fi
    sleep 0.1
  done
  [[ -n $started ]] && break
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
  prom_pid=
  if grep -q 'address already in use' "$tmp/prometheus.log" && [[ -z ${DASHBOARDS_CHECK_PORT:-} ]]; then
    note "port $port was taken, retrying ($attempt)"
    continue
  fi
  tail -n 20 "$tmp/prometheus.log" >&2
  fail "Prometheus did not become ready on 127.0.0.1:$port"
done
[[ -n $started ]] || fail "Prometheus could not find a free port"
note "Prometheus $version (pid $prom_pid) on 127.0.0.1:$port scraping $scheme://$hostport$metrics_path every 1s${flags:+ (${flags[*]})}"

# In the background + wait, so that a TERM/INT to this script runs the trap at once.
python3 "$here/dashboards_check.py" --prometheus "http://127.0.0.1:$port" \
  --dashboards "$root/dashboards" --job meridian --wait-samples "$samples" "$@" &
check_pid=$!
wait "$check_pid"
