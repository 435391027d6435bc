#!/bin/bash
# Two overlays on the same three nodes (issue 17): two rooms, two bridges,
# two subnets, one evio per node.
#
#   node1 [evbr0 10.250.0.1 "lab" | evbr1 10.251.0.1 "blue"] -- nat1 --+
#   node2 [evbr0 10.250.0.2 "lab" | evbr1 10.251.0.2 "blue"] -- nat2 --+-- br0 "pub" -- srv
#   node3 [evbr0 10.250.0.3 "lab" | evbr1 10.251.0.3 "blue"] -- nat3 --+   prosody + coturn
#
# Checks: both overlays converge (every node has a connected link to both
# others in each, direct through the home routers); every node pings both
# others in each overlay; a broadcast sent in one overlay (a UDP broadcast
# carrying a marker, and ARP requests from arping -b) reaches the other
# nodes' bridge of that overlay, at most once per frame sent, and never
# appears on their bridge of the other overlay; and the same the other way.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init
command -v arping >/dev/null || fail "needs arping (iputils-arping)"

nodes_up 3 overlay2=blue
declare -A ID
for i in 1 2 3; do ID[$i]=$(node_status "$i" "$(node_dir "$i")" | jq -r .node_id); done
log "ids: 1 ${ID[1]:0:12}, 2 ${ID[2]:0:12}, 3 ${ID[3]:0:12}"

# converged: every node has a connected link to each of the two others in
# both overlays
_converged() {
  local i ok=0
  for i in 1 2 3; do
    node_status "$i" "$(node_dir "$i")" | jq -e --arg a "${ID[1]}" --arg b "${ID[2]}" \
      --arg c "${ID[3]}" --arg self "${ID[$i]}" '
      ([$a, $b, $c] - [$self] | sort) as $want
      | (.overlays | map(.name) | sort) == ["blue", "lab"]
        and all(.overlays[]; ([.links[] | select(.state == "connected") | .peer] | sort) == $want)' \
      >/dev/null || { echo "node$i: $(node_status "$i" "$(node_dir "$i")" | jq -c '[.overlays[] | {name, links: [.links[] | {peer: .peer[0:8], state}]}]')"; ok=1; }
  done
  return $ok
}
t0=$(date +%s%N)
wait_until 90 "both overlays converged on all three nodes" _converged
log "both overlays converged in $(( ($(date +%s%N) - NODES_T0) / 1000000 )) ms from the first start"
for i in 1 2 3; do node_assert_direct "$i" "$(node_dir "$i")"; done
for i in 1 2 3; do
  node_status "$i" "$(node_dir "$i")" | jq -r --arg n "node$i" \
    '.overlays[] | "# \($n) \(.name): bridge \(.bridge) \(.ip), links \([.links[] | "\(.peer[0:8]) \(.state) \(.local_type)/\(.remote_type)"] | join(", "))"'
done

log "pings in both overlays, every node to both others"
for i in 1 2 3; do
  for j in 1 2 3; do
    [ "$i" = "$j" ] && continue
    for net in 10.250.0 10.251.0; do
      node_wait_ping "$i" "$net.$j" 15
      ns "node$i" ping -c 2 -i 0.2 -W 2 "$net.$j" >/dev/null || fail "node$i cannot ping $net.$j"
    done
  done
done
log "all 12 pings answered"

# captures on node2 and node3, both bridges
declare -A CAP
for i in 2 3; do
  for br in evbr0 evbr1; do
    net_capture_start "node$i" "$br" "$EVT_TMP/n$i-$br.pcap"
    CAP[$i-$br]=$NET_CAPTURE_PID
  done
done

mk_marker() { echo "EVIO-OVL-$1-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
M_LAB=$(mk_marker lab) M_BLUE=$(mk_marker blue)
# bcast NS ADDR MARKER: 5 UDP broadcasts to ADDR:9999 carrying MARKER
bcast() {
  ns "$1" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for k in range(5):
    s.sendto(sys.argv[2].encode() * 4, (sys.argv[1], 9999))
    time.sleep(0.1)
' "$2" "$3"
}
log "node1: 5 UDP broadcasts and 3 ARP requests in lab, then the same in blue"
bcast node1 10.250.0.255 "$M_LAB"
ns node1 arping -b -c 3 -w 4 -I evbr0 10.250.0.199 >/dev/null 2>&1 || true
bcast node1 10.251.0.255 "$M_BLUE"
ns node1 arping -b -c 3 -w 4 -I evbr1 10.251.0.199 >/dev/null 2>&1 || true

# arps FILE IP: ARP requests for IP in FILE
arps() { tcpdump -n -r "$1" "arp and arp[24:4] = 0x$(printf '%02x' ${2//./ })" 2>/dev/null | grep -c 'who-has' || true; }
_seen_all() {
  local i
  for i in 2 3; do
    [ "$(pcap_count "$EVT_TMP/n$i-evbr0.pcap" "$M_LAB")" -ge 4 ] || return 1
    [ "$(pcap_count "$EVT_TMP/n$i-evbr1.pcap" "$M_BLUE")" -ge 4 ] || return 1
  done
}
wait_until 10 "the broadcasts to reach node2 and node3 in their own overlay" _seen_all
for i in 2 3; do for br in evbr0 evbr1; do net_capture_stop "${CAP[$i-$br]}"; done; done

bad=0
for i in 2 3; do
  # the marker is 4 times in each datagram
  lab_on_lab=$(( $(pcap_count "$EVT_TMP/n$i-evbr0.pcap" "$M_LAB") / 4 ))
  lab_on_blue=$(( $(pcap_count "$EVT_TMP/n$i-evbr1.pcap" "$M_LAB") / 4 ))
  blue_on_blue=$(( $(pcap_count "$EVT_TMP/n$i-evbr1.pcap" "$M_BLUE") / 4 ))
  blue_on_lab=$(( $(pcap_count "$EVT_TMP/n$i-evbr0.pcap" "$M_BLUE") / 4 ))
  arp_lab_on_lab=$(arps "$EVT_TMP/n$i-evbr0.pcap" 10.250.0.199)
  arp_lab_on_blue=$(arps "$EVT_TMP/n$i-evbr1.pcap" 10.250.0.199)
  arp_blue_on_blue=$(arps "$EVT_TMP/n$i-evbr1.pcap" 10.251.0.199)
  arp_blue_on_lab=$(arps "$EVT_TMP/n$i-evbr0.pcap" 10.251.0.199)
  log "node$i: UDP broadcasts (5 sent each): lab on evbr0 $lab_on_lab, lab on evbr1 $lab_on_blue," \
      "blue on evbr1 $blue_on_blue, blue on evbr0 $blue_on_lab;" \
      "ARP (3 sent each): lab on evbr0 $arp_lab_on_lab, lab on evbr1 $arp_lab_on_blue," \
      "blue on evbr1 $arp_blue_on_blue, blue on evbr0 $arp_blue_on_lab"
  [ "$lab_on_blue" = 0 ] && [ "$blue_on_lab" = 0 ] && [ "$arp_lab_on_blue" = 0 ] \
    && [ "$arp_blue_on_lab" = 0 ] || { log "node$i: a broadcast crossed overlays"; bad=1; }
  [ "$lab_on_lab" -ge 1 ] && [ "$lab_on_lab" -le 5 ] && [ "$blue_on_blue" -ge 1 ] \
    && [ "$blue_on_blue" -le 5 ] || { log "node$i: UDP broadcasts missing or duplicated in their own overlay"; bad=1; }
  [ "$arp_lab_on_lab" -ge 1 ] && [ "$arp_lab_on_lab" -le 3 ] && [ "$arp_blue_on_blue" -ge 1 ] \
    && [ "$arp_blue_on_blue" -le 3 ] || { log "node$i: ARP requests missing or duplicated in their own overlay"; bad=1; }
done
[ "$bad" = 0 ] || fail "broadcast isolation between overlays (figures above)"
echo "two_overlays: ok"
