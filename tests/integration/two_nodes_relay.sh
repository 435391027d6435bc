#!/bin/bash
# Two evio nodes that may only use TURN relay candidates ("ice.relay_only").
#
#   node1 [evbr0 10.250.0.1] 10.99.1.10 -- nat1 (MASQ) --+
#                                                        br0 "pub" 10.99.100.254
#   node2 [evbr0 10.250.0.2] 10.99.2.10 -- nat2 (MASQ) --+
#                                                        |
#               srv 10.99.100.10: prosody + coturn  <== every overlay frame goes through here
#
# Checks: the link is connected on both, the selected pair is relayed, ping
# works both ways, and coturn carried the traffic.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

nodes_up 2 relay_only=true

log "waiting for the link (up to 60 s)"
node_wait_link 1 "$EVT_TMP/node1" connected 60
node_wait_link 2 "$EVT_TMP/node2" connected 60
for i in 1 2; do
  l=$(node_link "$i" "$EVT_TMP/node$i" | jq -c '{state, local_type, remote_type}')
  log "node$i link: $l"
  echo "$l" | jq -e '.local_type == "relay" or .remote_type == "relay"' >/dev/null \
    || fail "node$i: relay_only link is not relayed: $l"
  echo "$l" | jq -e '.local_type == "relay"' >/dev/null \
    || fail "node$i: relay_only but its own candidate is $(echo "$l" | jq -r .local_type)"
done

log "ping node1 -> 10.250.0.2 and node2 -> 10.250.0.1"
node_wait_ping 1 10.250.0.2 10
ns node1 ping -c 3 -i 0.2 -W 2 10.250.0.2 || fail "node1 cannot ping 10.250.0.2 over the relayed link"
ns node2 ping -c 3 -i 0.2 -W 2 10.250.0.1 || fail "node2 cannot ping 10.250.0.1 over the relayed link"

log "the frames went through coturn: UDP from its relay ports $COTURN_MIN_PORT-$COTURN_MAX_PORT (relay to relay goes over srv's lo)"
net_capture_start srv any "$EVT_TMP/srv.pcap"; cap=$NET_CAPTURE_PID
ns node1 ping -c 5 -i 0.2 -W 2 10.250.0.2 >/dev/null || fail "ping failed during the capture"
net_capture_stop "$cap"
relayed=$(tcpdump -n -r "$EVT_TMP/srv.pcap" "udp and src portrange $COTURN_MIN_PORT-$COTURN_MAX_PORT" 2>/dev/null | wc -l)
log "$relayed datagrams sent from coturn's relay ports"
[ "$relayed" -ge 5 ] || fail "no relayed traffic seen at coturn"
echo "two_nodes_relay: ok"
