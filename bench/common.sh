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
    (cd "$ROOT" && swift build -c release --product meridian) || die "swift build failed"
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
