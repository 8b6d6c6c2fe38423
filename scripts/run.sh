#!/usr/bin/env bash
# Builds Meridian (release) and serves: with no arguments, ./public on 0.0.0.0:8080 and the admin
# listener on 127.0.0.1:9901. Arguments go to `meridian serve` (e.g. --config config/meridian.yaml).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build-release.sh
exec .build/release/meridian serve "$@"
