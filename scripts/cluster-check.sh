#!/usr/bin/env bash
# The cluster proof: three real Meridian instances behind Debian's HAProxy, sharing Debian's redis-server, in front of
# two upstream services, under a steady 200 req/s, through a rolling restart, a Redis outage, a dead upstream, a cache
# stampede and a tag purge, a cross-instance publish and a global rate limit (scripts/cluster_check.py does the work).
# Writes cluster-report.md and docs/cluster-check.png, prints the report, exits 1 when a pass/fail figure is missed.
#
# Usage: scripts/cluster-check.sh [cluster_check.py options, e.g. --steps 1,2 --load-rate 100]
#   MERIDIAN_BIN  the binary (default .build/release/meridian if present, else .build/debug/meridian); not built here
# Everything listens on 127.0.0.1 on free ports; logs go to .build/cluster-check/ (replaced on each run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n ${MERIDIAN_BIN:-} ]]; then
  bin=$MERIDIAN_BIN
elif [[ -x .build/release/meridian ]]; then
  bin=.build/release/meridian
else
  bin=.build/debug/meridian
fi
[[ -x $bin ]] || { echo "cluster-check: no meridian binary at $bin (build first, or set MERIDIAN_BIN)" >&2; exit 2; }

scripts/ensure-packages.sh haproxy:haproxy redis-server:redis-server python3:python3
# websockets for the WebSocket subscribers, matplotlib for the picture, in the tests' virtualenv.
venv=.build/test-venv
if ! "$venv/bin/python3" -c 'import websockets, matplotlib' 2>/dev/null; then
  [[ -x $venv/bin/python3 ]] || python3 -m venv "$venv" 2>/dev/null || { scripts/ensure-packages.sh :python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/python3" -m pip install -q websockets==15.0.1 matplotlib==3.10.8
fi

workdir=$PWD/.build/cluster-check
rm -rf "$workdir"
mkdir -p "$workdir"
# 1,000 concurrent connections from one process, and HAProxy's own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

orchestrator=
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [[ -n $orchestrator ]] && kill -0 "$orchestrator" 2>/dev/null; then
    kill -TERM "$orchestrator" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$orchestrator" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$orchestrator" 2>/dev/null || true
  fi
  # Whatever the orchestrator started and did not end (it was killed, or crashed): each by its id, and only if that
  # id still names the program that was started under it.
  if [[ -f $workdir/pids ]]; then
    while read -r pid comm; do
      if [[ -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]]; then
        echo "cluster-check: ending leftover $comm ($pid)" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done < "$workdir/pids"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
set +e
"$venv/bin/python3" scripts/cluster_check.py --meridian "$bin" --workdir "$workdir" \
  --haproxy "$(command -v haproxy)" --redis "$(command -v redis-server)" "$@" &
orchestrator=$!
wait "$orchestrator"
status=$?
orchestrator=
set -e
echo
echo "================ cluster-report.md ($(($(date +%s) - start)) s) ================"
[[ -f cluster-report.md ]] && cat cluster-report.md
exit "$status"
