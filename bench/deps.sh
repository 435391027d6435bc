#!/bin/bash
# The benchmark's own packages (on top of scripts/deps.sh): the VPNs evio is
# measured against and the load tools. Only what is missing is installed.
# Usage: bench/deps.sh          (as root on Debian 12)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/apt-missing.sh" bench/deps \
  iperf3 tinc openvpn n2n wireguard-go wireguard-tools linux-perf
# the VPN daemons' own services must not run outside the bench's namespaces
for s in tinc openvpn; do systemctl disable --now "$s" >/dev/null 2>&1 || true; done
