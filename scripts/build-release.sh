#!/usr/bin/env bash
# The release build of `meridian` (binary: .build/release/meridian). Extra arguments go to
# `swift build` (e.g. --scratch-path DIR).
#
# --static-swift-stdlib: the Swift runtime and Foundation linked into the binary, as the container
# image (deploy/Dockerfile) has always shipped it, so the benchmarks measure what ships. It is also
# faster: every swift_retain and swift_release (a fifth of a proxied request's CPU) is a direct call
# instead of one through the PLT into libswiftCore.so. `TARGET=proxy ROUNDS=3 bench/cpu-per-request.sh`
# (Intel Xeon, KVM): 22.7-24.6 us per request dynamically linked, 21.3-21.8 statically.
#
# -enforce-exclusivity=unchecked for every module, dependencies included: SwiftPM applies a
# package's unsafeFlags only to its own targets, and the dynamic exclusivity checks inside
# swift-nio, swift-nio-http2 and swift-nio-ssl (swift_beginAccess on every ByteBuffer write and
# state-machine mutation) cost 8% of HTTP/2 throughput (bench/h2.sh, median of 5: 89.6k -> 96.8k
# req/s). Debug builds, and so the whole test suite, keep the checks: a violation still fails there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# zlib, libdeflate and brotli compress;
# libxcrypt (bcrypt) and libargon2 check basic auth's password hashes; libmodsecurity and the OWASP CRS are the WAF;
# gperftools' tcmalloc is the process's malloc (Sources/meridian/Allocator.swift).
scripts/ensure-packages.sh /usr/include/zlib.h:zlib1g-dev \
  /usr/include/brotli/encode.h:libbrotli-dev /usr/include/libdeflate.h:libdeflate-dev /usr/include/crypt.h:libcrypt-dev /usr/include/argon2.h:libargon2-dev \
  /usr/include/modsecurity/modsecurity.h:libmodsecurity-dev /usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf:modsecurity-crs \
  /usr/include/gperftools/malloc_extension_c.h:libgoogle-perftools-dev
exec swift build -c release --product meridian -Xswiftc -enforce-exclusivity=unchecked --static-swift-stdlib "$@"
