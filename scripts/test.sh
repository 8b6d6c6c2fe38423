#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with the Swift toolchain: installs the
# Debian packages the tests use, builds the tests, runs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-packages.sh curl:curl python3:python3 openssl:openssl nghttp:nghttp2-client
swift build --build-tests "$@"
swift test --skip-build "$@"
