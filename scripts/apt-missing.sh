#!/bin/bash
# Installs those of the given Debian packages that are not installed yet.
# Usage: scripts/apt-missing.sh WHO PACKAGE...   (WHO prefixes messages)
# Exits 1 when packages are missing and it is not run as root.
set -euo pipefail
who=$1; shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "$who: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "$who: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
