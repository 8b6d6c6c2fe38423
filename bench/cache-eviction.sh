#!/usr/bin/env bash
# The L1 store's eviction policy: SIEVE against LRU on Zipf workloads (2,000,000 requests over 100,000 keys,
# exponents 0.7-1.2, caches of 1%, 5% and 10%, seed 42), and MemoryStore's gets/s on one and two threads with 16,
# 64 and 1 shards. A pure in-process measurement: `meridian bench-cache-eviction` from the release build.
# Usage: bench/cache-eviction.sh [--build] [--throughput-only]
# Env:   MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
extra=()
args=()
for a in "$@"; do
  if [[ $a == --throughput-only ]]; then extra+=("$a"); else args+=("$a"); fi
done
ONLY='' bench_args "${args[@]+"${args[@]}"}"  # only --build
meridian_binary "$BUILD"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
"$BIN" bench-cache-eviction "${extra[@]+"${extra[@]}"}"
