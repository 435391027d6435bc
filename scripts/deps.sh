#!/bin/bash
# Install the Debian packages evio's build, tests and demo need (only those
# missing), then build libopenvswitch once into the build tree (cached).
# Usage: scripts/deps.sh [BUILD_DIR]        (as root on Debian 12)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

pkgs=(
  build-essential pkg-config python3 python3-yaml
  libnice-dev libstrophe-dev libjansson-dev libssl-dev libglib2.0-dev
  openvswitch-switch openvswitch-source
  prosody coturn
  iproute2 nftables iputils-ping ethtool tcpdump iperf3 procps psmisc openssl jq lua-sec
  dnsmasq-base busybox iputils-arping
  debhelper dpkg-dev fakeroot lintian systemd man-db debootstrap
  podman runc
)
"$top/scripts/apt-missing.sh" deps "${pkgs[@]}"

# libopenvswitch, built once from Debian's openvswitch-source into the build tree.
"$top/scripts/build-libopenvswitch.sh" "$build/ovs-src" "$build/ovs"
