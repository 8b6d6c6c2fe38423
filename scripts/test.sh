#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with the Swift toolchain: installs the
# Debian and PyPI packages the tests use, builds the tests, runs them, then checks the telemetry
# end to end (status page in headless Chromium, Grafana queries against Prometheus) and the
# cluster (scripts/cluster-check.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-packages.sh curl:curl python3:python3 /usr/include/zlib.h:zlib1g-dev /usr/include/brotli/encode.h:libbrotli-dev /usr/include/libdeflate.h:libdeflate-dev openssl:openssl nghttp:nghttp2-client nghttpd:nghttp2-server \
  redis-server:redis-server redis-cli:redis-tools \
  /usr/include/crypt.h:libcrypt-dev /usr/include/argon2.h:libargon2-dev /usr/include/modsecurity/modsecurity.h:libmodsecurity-dev \
  /usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf:modsecurity-crs \
  /usr/include/gperftools/malloc_extension_c.h:libgoogle-perftools-dev /usr/include/jemalloc/jemalloc.h:libjemalloc-dev
# The OTLP receiver and the metrics parser the tests drive use the official OpenTelemetry protobuf
# definitions and prometheus_client's parsers, in a virtualenv of their own.
venv=.build/test-venv
[[ -x $venv/bin/python3 ]] && export PATH="$PWD/$venv/bin:$PATH"
if ! python3 -c 'import opentelemetry.proto, prometheus_client, websockets, brotli, sslyze, jwt, argon2, bcrypt, yaml, kubernetes_validate' 2>/dev/null; then
  # (Debian's python3 needs python3-venv for that; an empty command name always installs.)
  python3 -m venv "$venv" 2>/dev/null || { scripts/ensure-packages.sh :python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/python3" -m pip install -q opentelemetry-proto==1.45.2 prometheus-client==0.26.0 websockets==15.0.1 brotli==1.2.1 \
    sslyze==6.3.1 pyjwt==2.15.1 cryptography==46.0.7 argon2-cffi==25.1.0 bcrypt==5.0.0 pyyaml==6.0.4 kubernetes-validate==1.37.0 matplotlib==3.10.8
  export PATH="$PWD/$venv/bin:$PATH"
fi
swift build --build-tests "$@"
# At most 16 tests at once: all 800 at once on two cores left a test's task unscheduled for seconds now and then
# (a client that connected could not send before the server's 10 s header deadline), and the tests with time bounds
# flaked; 16 at once runs the suite in about the same 40 s.
swift test --skip-build --experimental-maximum-parallelization-width 16 "$@"
# The 1 GiB upload, the 1 GiB each way through the proxy, Redis killed under h2load and the global
# limit's accuracy under load, 999 concurrent misses over three instances, the channel suites (dozens of Python clients, 24 MB to a slow WebSocket reader) and the WAF
# suites (the OWASP CRS loaded several times, ~1 ms of CPU per inspected request) and the OCSP verifier suites (openssl
# run synchronously, RSA keys made, on the test's own thread) keep both cores busy for seconds, and the SSE timing tests need a quiet
# machine: after the suite, one group at a time (swift test runs suites side by side).
for group in 'UploadTests/aOneGibibyteUploadKeepsMemoryFlat|ProxyStreamingTests/largeBodiesStreamBothWaysWithFlatMemory' \
  'RedisDegradedTests' 'GlobalLimitAccuracyTests' \
  'ProxyStreamingTests/serverSentEventsArriveAsTheUpstreamSendsThem|CompressionTests/serverSentEventsThroughGzipArriveOneByOne|HTTP2StallTests/aWholeResponseThatKeepsMovingIsNotReset' \
  'CacheClusterTests/aColdKeyReachesTheOriginOncePerCluster' \
  'WebSocketChannelTests|WebSocketClusterTests|WebSocketOperationsTests' 'WAFTests|WAFEngine|OCSPVerifierTests|OCSPRequestTests'; do
  MERIDIAN_LARGE_TESTS=1 swift test --skip-build --filter "$group" "$@"
done
python3 deploy/check.py
python3 deploy/check_kubernetes.py
python3 deploy/check_kubernetes.py --self-test
scripts/telemetry-check.sh
# Three instances behind HAProxy with Redis and two upstreams, under load, through a rolling restart, a Redis outage,
# an upstream killed, a cold-URL stampede and a purge, a publish and a global limit: exit 1 when a figure is missed.
# The binary the tests just built; the report goes to cluster-report.md and docs/cluster-check.png.
MERIDIAN_BIN=.build/debug/meridian scripts/cluster-check.sh
