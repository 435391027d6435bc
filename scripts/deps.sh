#!/bin/bash
# Install the Debian packages evio's build, tests and demo need (only those
# missing), then build libopenvswitch once into the build tree (cached).
# Usage: scripts/deps.sh [BUILD_DIR]        (as root on Debian 12)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

pkgs=(
  build-essential pkg-config python3
  libnice-dev libstrophe-dev libjansson-dev libssl-dev libglib2.0-dev
  openvswitch-switch openvswitch-source
  prosody coturn
  iproute2 nftables iputils-ping ethtool tcpdump iperf3 procps psmisc openssl jq lua-sec
  dnsmasq-base busybox iputils-arping
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libopenvswitch, built once from Debian's openvswitch-source into the build tree.
"$top/scripts/build-libopenvswitch.sh" "$build/ovs-src" "$build/ovs"
