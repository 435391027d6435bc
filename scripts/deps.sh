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
  podman runc containernetworking-plugins curl gpg
)
"$top/scripts/apt-missing.sh" deps "${pkgs[@]}"

# kubectl >= 1.27 (its kustomize renders packaging/k8s in
# integration/k8s_manifests) is not in Debian 12; when it is missing, take
# it from Kubernetes' own apt repository, the way kubernetes.io says to.
# Without network that fails here, and the test says what is missing.
if ! command -v kubectl >/dev/null; then
  k8s=https://pkgs.k8s.io/core:/stable:/v1.31/deb
  key=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
  if mkdir -p /etc/apt/keyrings && curl -fsSL --max-time 30 "$k8s/Release.key" | gpg --dearmor --yes -o "$key"; then
    echo "deb [signed-by=$key] $k8s/ /" >/etc/apt/sources.list.d/kubernetes.list
    apt-get update -q >/dev/null && apt-get install -y -q kubectl >/dev/null \
      || echo "deps: cannot install kubectl from $k8s" >&2
  else
    echo "deps: kubectl is missing and $k8s is not reachable; integration/k8s_manifests will fail" >&2
  fi
fi

# libopenvswitch, built once from Debian's openvswitch-source into the build tree.
"$top/scripts/build-libopenvswitch.sh" "$build/ovs-src" "$build/ovs"
