#!/bin/bash
# Kubernetes' Flannel over evio, vxlan backend: flannel.1 (VNI 1, port 8472)
# over each node's evio bridge, pod MTU = bridge MTU - 50. No flanneld or
# kubelet exists in Debian 12: the data plane is made as they make it
# (tests/lib/flannel.sh, which lists the checks in flannel_run).
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/flannel.sh"
evt_init

flannel_run vxlan
