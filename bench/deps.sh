#!/bin/bash
# The benchmark's own packages (on top of scripts/deps.sh): the VPNs evio is
# measured against and the load tools. Only what is missing is installed.
# Usage: bench/deps.sh          (as root on Debian 12)
set -euo pipefail
pkgs=(iperf3 tinc openvpn n2n wireguard-go wireguard-tools linux-perf)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench/deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "bench/deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# the VPN daemons' own services must not start outside the bench's namespaces
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for s in tinc openvpn; do systemctl disable --now "$s" >/dev/null 2>&1 || true; done
