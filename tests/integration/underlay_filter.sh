#!/bin/bash
# No tunnels inside tunnels: evio-tincan gathers ICE candidates on the real
# underlay only, never on devices that ride on the overlay bridge or on the
# default-ignored container/CNI devices.
#
#   ns a                                                         ns b
#   evbr0 (OVS, netdev) 10.250.0.1/24   <- the overlay bridge
#     flannel.1 vxlan id 1 dev evbr0  10.244.0.0/32  (as flanneld makes it)
#     pods0     vxlan id 2 dev evbr0  10.244.2.0/32  (no pattern names it)
#       pods0-mv macvlan on pods0     10.244.3.1/24  (two levels down)
#   cni0 (Linux bridge)               10.244.1.1/24  (pattern cni*)
#   va 10.77.0.1/24 ------------------- veth ----------------- vb 10.77.0.2/24
#   va-mv (macvlan on va) 10.78.0.1/24 --------------------- vb 10.78.0.2/24
#
# vb is created with evbr0's ifindex, so va's lower link (its peer, in ns b)
# has the number of the bridge in ns a: the trap a filter falls into when it
# follows a veth's IFLA_LINK without looking at IFLA_LINK_NETNSID.
#
# Checks: a's candidates are on 10.77.0.1 and 10.78.0.1 and on nothing of
# 10.244/16 or 10.250/16; the link comes up; each skipped interface is
# logged once at info with its reason, also after a second link.
set -u
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/tincan.sh"
evt_init

[ -x "$EVT_BUILD/evio-tincan" ] || fail "no $EVT_BUILD/evio-tincan"
command -v jq >/dev/null || fail "jq is not installed"

ns_add a b
ovs_start a "$EVT_TMP/ovs-a"
ns a ovs-vsctl --db=unix:"$EVT_TMP/ovs-a/db.sock" --timeout=10 add-br evbr0 \
  -- set bridge evbr0 datapath_type=netdev || fail "cannot add the OVS bridge evbr0"
wait_until 10 "evbr0 in ns a" ns a test -e /sys/class/net/evbr0
ns a ip addr add 10.250.0.1/24 dev evbr0 && ns a ip link set evbr0 up || fail "evbr0 up"
br_index=$(ns a cat /sys/class/net/evbr0/ifindex)

ip -n "${EVT_PREFIX}b" link add vb index "$br_index" type veth peer name va \
  netns "${EVT_PREFIX}a" || fail "cannot create vb with index $br_index"
[ "$(ns a cat /sys/class/net/va/iflink)" = "$br_index" ] \
  || fail "va's iflink is not evbr0's index $br_index: the trap is not armed"
ns a ip addr add 10.77.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.77.0.2/24 dev vb && ns b ip link set vb up
ns a ip link add link va name va-mv type macvlan mode bridge \
  && ns a ip addr add 10.78.0.1/24 dev va-mv && ns a ip link set va-mv up || fail "va-mv"
ns b ip addr add 10.78.0.2/24 dev vb || fail "10.78.0.2 on vb"

ns a ip link add flannel.1 type vxlan id 1 dev evbr0 dstport 8472 nolearning || fail "flannel.1"
ns a ip addr add 10.244.0.0/32 dev flannel.1 && ns a ip link set flannel.1 up
ns a ip link add pods0 type vxlan id 2 dev evbr0 dstport 8473 nolearning || fail "pods0"
ns a ip addr add 10.244.2.0/32 dev pods0 && ns a ip link set pods0 up
ns a ip link add link pods0 name pods0-mv type macvlan mode bridge || fail "pods0-mv"
ns a ip addr add 10.244.3.1/24 dev pods0-mv && ns a ip link set pods0-mv up
ns a ip link add cni0 type bridge && ns a ip addr add 10.244.1.1/24 dev cni0 \
  && ns a ip link set cni0 up || fail "cni0"

log "evio-tincan in a and b with the default ice.ignore_interfaces"
TINCAN_ICE='"relay_only": false' TINCAN_LOG_LEVEL=info tincan_start a
TINCAN_ICE='"relay_only": false' TINCAN_LOG_LEVEL=info tincan_start b

tincan_pair l1 ta1 tb1 1300
hosts=$(jq -r '.candidates[] | split(" ")[4]' <<<"$TINCAN_LOCAL_A" | sort -u | tr '\n' ' ')
log "a gathered on: $hosts"
for want in 10.77.0.1 10.78.0.1; do
  [[ " $hosts" == *" $want "* ]] || fail "no candidate on the underlay address $want (got: $hosts)"
done
for ip in $hosts; do
  case $ip in
    10.244.*|10.250.*) fail "a candidate on $ip rides on the overlay or the pod network" ;;
  esac
done

tincan_pair l2 ta2 tb2 1300
log_a=$EVT_TMP/tincan-a.log
expect_once() {
  local n
  n=$(grep -cF "$1" "$log_a")
  [ "$n" = 1 ] || fail "expected once in a's log, found $n times: $1"
}
expect_once 'not gathering on pods0 (10.244.2.0): it rides on evbr0, an overlay bridge'
expect_once 'not gathering on pods0-mv (10.244.3.1): it rides on evbr0, an overlay bridge'
expect_once 'not gathering on cni0 (10.244.1.1): matches ice.ignore_interfaces "cni*"'
expect_once 'not gathering on flannel.1 (10.244.0.0): matches ice.ignore_interfaces "flannel*"'
grep -F 'not gathering on va ' "$log_a" && fail "va (the real underlay) was skipped"
echo "underlay_filter: ok"
