#!/usr/bin/env bash
# What the security middleware costs: req/s of a 1 KiB static route with no middleware, with a JWT (RS256 and
# ES256, checked on the event loop), with an API key, and with the WAF (OWASP CRS, paranoia level 1, blocking),
# each as a ratio to "none". One Meridian (one event loop, core 0), wrk -t1 -cCONNECTIONS from core 1, each
# route in turn: 2 s warm-up, then DURATION s; ROUNDS rounds, medians printed. Tokens are minted by PyJWT
# (Tests/tools/jwt_tool.py) and sent on every request (the JWT is verified on every request: nothing is cached).
# Usage: bench/security.sh [--build]
# Env:   DURATION=10 CONNECTIONS=64 ROUNDS=3 ROUTES="none jwt-rs256 jwt-es256 api-key waf" MERIDIAN_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
ROUTES=${ROUTES:-"none jwt-rs256 jwt-es256 api-key waf"}
ONLY=meridian
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_args "$@"

for t in wrk taskset curl python3; do command -v "$t" >/dev/null || die "missing $t (bench/static.sh installs wrk)"; done
PY=python3
[[ -x $ROOT/.build/test-venv/bin/python3 ]] && PY=$ROOT/.build/test-venv/bin/python3
"$PY" -c 'import jwt, cryptography' 2>/dev/null || die "PyJWT and cryptography are needed: run scripts/test.sh once (it makes .build/test-venv)"
meridian_binary "$BUILD"

bench_tmpdir meridian-security
mkdir -p "$TMP/files"
head -c 1024 /dev/urandom >"$TMP/files/1k.bin"
"$PY" "$ROOT/Tests/tools/jwt_tool.py" keys "$TMP/keys"
KEY=bench-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
DIGEST=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
TOKENS=$("$PY" "$ROOT/Tests/tools/jwt_tool.py" mint "$TMP/keys" \
  '[{"name":"rs","key":"rsa-1","alg":"RS256","kid":"rsa-1","claims":{"sub":"bench","aud":"bench","exp":4102444800}},
    {"name":"es","key":"ec-1","alg":"ES256","kid":"ec-1","claims":{"sub":"bench","aud":"bench","exp":4102444800}}]')
RS=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["rs"])' <<<"$TOKENS")
ES=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["es"])' <<<"$TOKENS")

read -r PORT ADMIN_PORT < <(free_ports 2)
cat >"$TMP/meridian.yaml" <<EOF
server: {event_loops: 1}
listeners: [{name: bench, address: "127.0.0.1:$PORT"}]
admin: {address: "127.0.0.1:$ADMIN_PORT"}
telemetry: {access_log: {enabled: false}}
auth:
  rs: {jwt: {keys: [{kid: rsa-1, alg: RS256, file: $TMP/keys/rsa-1.pub.pem}], audience: bench}}
  es: {jwt: {keys: [{kid: ec-1, alg: ES256, file: $TMP/keys/ec-1.pub.pem}], audience: bench}}
  key: {api_key: {keys: [{name: bench, sha256: $DIGEST}]}}
hosts:
  - default: true
    routes:
      - {match: {prefix: /none/}, static: {root: $TMP/files, strip_prefix: /none}}
      - {match: {prefix: /jwt-rs256/}, static: {root: $TMP/files, strip_prefix: /jwt-rs256}, auth: rs}
      - {match: {prefix: /jwt-es256/}, static: {root: $TMP/files, strip_prefix: /jwt-es256}, auth: es}
      - {match: {prefix: /api-key/}, static: {root: $TMP/files, strip_prefix: /api-key}, auth: key}
      - {match: {prefix: /waf/}, static: {root: $TMP/files, strip_prefix: /waf}, waf: {mode: blocking, paranoia_level: 1}}
EOF
"$BIN" validate "$TMP/meridian.yaml" >/dev/null || die "config invalid: $("$BIN" validate "$TMP/meridian.yaml" 2>&1)"
taskset -c 0 "$BIN" serve --config "$TMP/meridian.yaml" >"$TMP/meridian.log" 2>&1 &
PIDS+=($!)
wait_ready meridian "$!" "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/meridian.log"

declare -A HEADER=([none]="" [jwt-rs256]="Authorization: Bearer $RS" [jwt-es256]="Authorization: Bearer $ES" [api-key]="X-API-Key: $KEY" [waf]="")
# Ordinary browser headers on every route, so the WAF inspects what a page load sends.
COMMON=(-H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" -H "Accept-Language: en-US,en;q=0.5"
  -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" -H "Accept-Encoding: gzip, deflate, br")
for r in $ROUTES; do
  args=(-s -o /dev/null -w '%{http_code}' "${COMMON[@]}")
  [[ -n ${HEADER[$r]} ]] && args+=(-H "${HEADER[$r]}")
  code=$(curl "${args[@]}" "http://127.0.0.1:$PORT/$r/1k.bin")
  [[ $code == 200 ]] || die "$r: GET /$r/1k.bin answered $code, expected 200 (see $TMP/meridian.log)"
done

declare -A ALL
run() {
  local r=$1 out=$TMP/wrk-$r.txt args=("${COMMON[@]}")
  [[ -n ${HEADER[$r]} ]] && args+=(-H "${HEADER[$r]}")
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "${args[@]}" "http://127.0.0.1:$PORT/$r/1k.bin" >/dev/null
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${args[@]}" "http://127.0.0.1:$PORT/$r/1k.bin" >"$out"
  grep -qE '^ *Non-2xx' "$out" && die "$r: non-2xx answers under load: $(grep -E 'Non-2xx' "$out")"
  ALL[$r]+="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out") "
}
for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round/$ROUNDS"
  for r in $ROUTES; do run "$r"; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo
echo "command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS ROUNDS=$ROUNDS $0 $*"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')   nproc: $(nproc)   meridian: $("$BIN" version)"
echo
NONE=$(median <<<"${ALL[none]:-}")
echo "| route | req/s (median) | vs none | every round |"
echo "|---|---:|---:|---|"
for r in $ROUTES; do
  m=$(median <<<"${ALL[$r]}")
  echo "| $r | $m | $(awk -v a="$NONE" -v b="$m" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }') | ${ALL[$r]}|"
done
