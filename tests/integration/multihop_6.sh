#!/bin/bash
# One Ethernet segment across several overlay hops. Six NATed nodes form a
# bare ring (one successor each, no long-distance edges), so some pairs are
# 3 hops apart; evio-switchctl's bounded flood carries ARP, IPv6 neighbour
# discovery and broadcasts across, and learned unicast flows carry the rest.
#
# Checks: every pair pings both ways over IPv4 and over IPv6 link-local
# addresses; a UDP broadcast from node1 reaches every other node's bridge
# port exactly once and never comes back to node1; no switch refused a
# flood frame.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/topo.sh"
evt_init

N=6
all=$(seq 1 $N)
nodes_up $N successors=1 long=0
TOPO_K=0 topo_wait 120 $all
j=$(topo_collect $all)
topo_summary "$j" | sed 's/^/    /'
[ "$(jq '[.[].edges[] | select(.state == "connected")] | length' <<<"$j")" = $((2 * N)) ] \
  || fail "expected a bare ring of $N links (each seen from both ends)"
# home-router NATs: every link punches through, none through TURN
for i in $all; do node_assert_direct "$i" "$(node_dir "$i")"; done

# IPv4, every ordered pair
for i in $all; do
  for k in $all; do
    [ "$i" = "$k" ] && continue
    node_wait_ping "$i" "10.250.0.$k" 20
  done
done
log "IPv4: all $((N * (N - 1))) ordered pairs ping"

# IPv6 link-local: wait for duplicate address detection to finish
ll6() { ns "node$1" ip -6 -o addr show dev evbr0 scope link | awk '!/tentative/ {split($4, a, "/"); print a[1]}'; }
_ll6_ready() { [ -n "$(ll6 "$1")" ]; }
declare -A LL
for i in $all; do
  wait_until 20 "node$i's IPv6 link-local address" _ll6_ready "$i"
  LL[$i]=$(ll6 "$i")
done
for i in $all; do
  for k in $all; do
    [ "$i" = "$k" ] && continue
    wait_until 20 "node$i to reach node$k over IPv6 (${LL[$k]})" \
      ns "node$i" ping -6 -c 1 -W 1 "${LL[$k]}%evbr0"
  done
done
log "IPv6 link-local: all $((N * (N - 1))) ordered pairs ping"

declare -A CAP
# A broadcast, counted on every node's bridge port. A second marker sent
# after it and seen everywhere means any duplicate of the first had its chance.
for i in $all; do
  net_capture_start "node$i" evbr0 "$EVT_TMP/bcast$i.pcap"
  CAP[$i]=$NET_CAPTURE_PID
done
send_bcast() {
  ns node1 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(sys.argv[1].encode(), ("10.250.0.255", 9999))' "$1"
}
m1=evio-bcast-one-$$ m2=evio-bcast-two-$$
send_bcast "$m1"
send_bcast "$m2"
_seen_everywhere() {
  local i
  for i in $all; do [ "$(pcap_count "$EVT_TMP/bcast$i.pcap" "$1")" -ge 1 ] || return 1; done
}
wait_until 20 "the second broadcast to reach every node" _seen_everywhere "$m2"
for i in $all; do net_capture_stop "${CAP[$i]}"; done
for i in $all; do
  c=$(pcap_count "$EVT_TMP/bcast$i.pcap" "$m1")
  log "node$i saw the broadcast $c time(s)"
  [ "$c" = 1 ] || fail "node$i saw node1's broadcast $c times, expected exactly 1"
done

for i in $all; do
  st=$(evctl "$(node_dir "$i")/run/switchctl.sock" --json bridge/status)
  refused=$(jq '.bridges[0].stats.flood_refused + .bridges[0].stats.flood_malformed' <<<"$st")
  [ "$refused" = 0 ] || fail "node$i's switch refused $refused flood frames: $st"
  log "node$i: $(jq -c '.bridges[0].stats | {flood_roots, flood_rx, flood_tx}' <<<"$st")"
done
# round-trip time by overlay hop count (informational): node1 to each node,
# hops = ring distance either way
topo_geometry "$j"
for k in $(seq 2 $N); do
  d=$(topo_dist 1 "$k")
  rtt=$(ns node1 ping -c 20 -i 0.05 -W 1 "10.250.0.$k" | awk -F'time=' '/time=/ {split($2, a, " "); print a[1]}' \
        | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  log "node1 -> node$k: $d overlay hop(s), median RTT $rtt ms"
done
echo "multihop_6: ok"
