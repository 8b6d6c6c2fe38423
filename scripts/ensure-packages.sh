#!/usr/bin/env bash
# Installs the Debian packages the given commands (or files) need, only when one is missing.
# Usage: scripts/ensure-packages.sh COMMAND:PACKAGE ... (an absolute path instead of a command
# name checks that the file exists: a library's header, e.g. /usr/include/zlib.h)
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if [[ $cmd == /* ]]; then
    [[ -e $cmd ]] || missing+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
((${#missing[@]})) || exit 0
echo "installing: ${missing[*]}" >&2
SUDO=()
((EUID == 0)) || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" \
  || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq \
       && "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"; }
