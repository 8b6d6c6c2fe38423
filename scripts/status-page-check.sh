#!/usr/bin/env bash
# Checks that the admin listener's live status page renders real data in headless Chromium, and
# takes a screenshot of it.
# Usage: scripts/status-page-check.sh ADMIN_BASE_URL OUT_PNG
#   e.g. scripts/status-page-check.sh http://127.0.0.1:9901 docs/status.png
# Installs Debian's chromium when it is missing. Exits 1 with a message when a check fails.
#
# How: headless Chromium's --dump-dom/--screenshot run when the page's load event has fired and then
# --virtual-time-budget ms of virtual time have passed. Virtual time stands still while any fetch is
# pending, and an open EventSource is one that never ends, so the page is loaded as
# /status?events=2: it renders /status.json, follows /status/events for 2 events, then closes the
# stream and the budget can run out. --timeout only bounds the page load; `timeout` is the backstop
# for a listener that never sends events.
set -euo pipefail

usage() { echo "usage: $0 ADMIN_BASE_URL OUT_PNG   (e.g. http://127.0.0.1:9901 docs/status.png)" >&2; exit 2; }
(($# == 2)) || usage
base=${1%/}
out=$2
url="$base/status?events=2"
limit=30 # seconds for one chromium run
fail() { echo "status-page-check: FAIL: $*" >&2; exit 1; }
note() { echo "status-page-check: $*"; }

if ! command -v chromium >/dev/null 2>&1; then
  note "chromium not found; installing Debian's chromium"
  SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || fail "could not install chromium"
fi
note "using $(chromium --version 2>/dev/null | head -n1)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Each run gets its own throwaway profile so that runs never share state or a profile lock.
flags=(--headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check
  --disable-extensions --disable-dev-shm-usage --mute-audio --virtual-time-budget=1500 --timeout=10000)
run_chromium() {
  local profile rc=0
  profile=$(mktemp -d "$tmp/profile.XXXX")
  timeout --kill-after=5 "$limit" chromium "${flags[@]}" --user-data-dir="$profile" "$@" 2>>"$tmp/chromium.log" || rc=$?
  ((rc != 124 && rc != 137)) || echo "chromium did not finish within ${limit}s: no SSE events from $base/status/events?" >>"$tmp/chromium.log"
  return "$rc"
}

# (a) The rendered DOM must show real data, received over SSE at least once.
note "(a) DOM of $url after 2 SSE events"
if ! run_chromium --dump-dom "$url" >"$tmp/dom.html"; then
  grep -v -e dbus -e zygote -e "unexpected operator" "$tmp/chromium.log" | tail -n 5 >&2 || true
  fail "chromium --dump-dom $url did not finish"
fi
dom=$(<"$tmp/dom.html")
[[ -n $dom ]] || fail "empty DOM from $url (is the admin listener up?)"
grep -q 'data-testid="rps"' <<<"$dom" || fail "$url is not the status page (no data-testid=\"rps\")"

state=$(grep -o '<body[^>]*data-state="[a-z]*"' <<<"$dom" | grep -o 'data-state="[a-z]*"' | head -n1 || true)
state=${state#data-state=\"}
state=${state%\"}
[[ $state == live ]] || fail "body data-state is '${state:-missing}', want 'live' (no SSE data rendered from $base/status/events)"
note "    body data-state=\"live\": rendered data from /status.json and from SSE"

text_of() { # text of the element with data-testid=$1 (elements whose text has no markup)
  grep -o "data-testid=\"$1\"[^>]*>[^<]*<" <<<"$dom" | head -n1 | sed -e 's/^[^>]*>//' -e 's/<$//'
}
rps=$(text_of rps)
[[ -n $rps && $rps != "—" && $rps != "-" ]] || fail "requests/s (data-testid=\"rps\") shows the placeholder '${rps}'"
note "    requests/s = $rps, p99 = $(text_of p99), uptime = $(text_of uptime), instance = $(text_of instance-id)"

rows=$(grep -o '<tr[^>]* data-route="[^"]*"' <<<"$dom" | wc -l)
((rows >= 1)) || fail "routes table (data-testid=\"routes-table\") has no route rows"
note "    routes table: $rows row(s):$(grep -o ' data-route="[^"]*"' <<<"$dom" | sed 's/ data-route=/ /' | head -n 5 | tr -d '\n')"

# Every endpoint of the configured upstream clusters has its row (none configured: none expected).
want=$(curl -fsS "$base/status.json" | python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("upstreams") or []))') \
  || fail "cannot read $base/status.json"
urows=$(grep -o '<tr[^>]* data-endpoint="[^"]*"' <<<"$dom" | wc -l)
((urows == want)) || fail "upstreams table (data-testid=\"upstreams-table\") has $urows row(s), /status.json lists $want endpoint(s)"
note "    upstreams table: $urows row(s):$(grep -o '<tr[^>]* data-endpoint="[^"]*"[^>]*data-breaker="[^"]*"' <<<"$dom" | sed -E 's/.*data-endpoint="([^"]*)".*data-cluster="([^"]*)".*data-healthy="([^"]*)".*data-ejected="([^"]*)".*data-breaker="([^"]*)"/ \2 \1 healthy=\3 ejected=\4 breaker=\5;/' | head -n 5 | tr -d '\n')"

# Every cached route has its row in the cache card (no cached route: the card says so).
cwant=$(curl -fsS "$base/status.json" | python3 -c 'import json, sys; c = json.load(sys.stdin).get("cache"); print(len(c["routes"]) if c else 0)') \
  || fail "cannot read $base/status.json"
crows=$(grep -o '<tr[^>]* data-cache-route="[^"]*"' <<<"$dom" | wc -l)
((crows == cwant)) || fail "cache card (data-testid=\"cache-routes\") has $crows row(s), /status.json lists $cwant cached route(s)"
if ((cwant > 0)); then
  note "    cache: L1 hit ratio $(text_of cache-l1), $crows cached route(s)"
fi

# Every live instance of the cluster has its row (no Redis: the card says so).
iwant=$(curl -fsS "$base/status.json" | python3 -c 'import json, sys; c = json.load(sys.stdin).get("cluster"); print(len(c["instances"]) if c else 0)') \
  || fail "cannot read $base/status.json"
irows=$(grep -o '<tr[^>]* data-instance="[^"]*"' <<<"$dom" | wc -l)
((irows == iwant)) || fail "cluster card (data-testid=\"cluster-instances\") has $irows row(s), /status.json lists $iwant instance(s)"
if ((iwant > 0)); then
  note "    cluster: $(text_of cluster-live) live, $irows instance row(s)"
fi

# (b) Screenshot.
note "(b) screenshot of $url at 1280x1100 -> $out"
mkdir -p "$(dirname "$out")"
rm -f "$out"
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
if ! run_chromium --hide-scrollbars --window-size=1280,1100 --screenshot="$abs_out" "$url" >/dev/null; then
  grep -v -e dbus -e zygote -e "unexpected operator" "$tmp/chromium.log" | tail -n 5 >&2 || true
  fail "chromium --screenshot did not finish"
fi
[[ -s $out ]] || fail "no screenshot written to $out"
size=$(wc -c <"$out")
[[ $(head -c 8 "$out" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$out is not a PNG"
((size > 20000)) || fail "screenshot $out is only $size bytes (blank page?)"
note "    $out: PNG, $size bytes"
note "OK"
