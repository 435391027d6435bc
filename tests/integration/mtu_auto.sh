#!/bin/bash
# "mtu": "auto" on a 1400-byte underlay: two nodes behind home-router NATs
# whose LAN is 1400 bytes (this machine's own uplink is), the internet 1500.
#
#   node1 [evbr0 auto] eth0 1400 -- nat1 -- pub br0 1500 -- nat2 -- eth0 1400 [evbr0 auto] node2
#                                              |
#                                 srv 10.99.100.10: prosody + coturn
#
# Checks: evioctl status shows the bridge MTU 1313 (1400 - 87) and where it
# came from (the route to the XMPP server via eth0); the bridge and the
# link's TAP have it, and evio-switchctl took evio's value; a DF ping of
# the full bridge MTU crosses the overlay, and while it and a TCP transfer
# run no outer packet on node1's eth0 is fragmented or larger than 1400.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

UNDERLAY=${MTU_AUTO_UNDERLAY:-1400}   # this machine's own uplink; 1500 works too
WANT=$((UNDERLAY - 87))

net_up 2
node_servers 2
for i in 1 2; do
  ns "node$i" ip link set eth0 mtu "$UNDERLAY"
  ns "nat$i" ip link set "l-$i" mtu "$UNDERLAY"
  d=$(node_dir "$i")
  node_config "$i" "$d"
  jq '.overlays[].bridge.mtu = "auto"' "$d/config.json" >"$d/config.auto" \
    && mv "$d/config.auto" "$d/config.json" || fail "cannot set mtu auto in $d/config.json"
done
for i in 1 2; do node_start "$i" "$(node_dir "$i")"; done

for i in 1 2; do
  d=$(node_dir "$i")
  st=$(node_status "$i" "$d")
  mtu=$(jq -r '.overlays[0].mtu' <<<"$st")
  src=$(jq -r '.overlays[0].mtu_source' <<<"$st")
  log "node$i: status mtu $mtu ($src)"
  [ "$mtu" = "$WANT" ] || fail "node$i: status mtu $mtu, expected $WANT"
  [ "$src" = "auto: route to $(net_srv_ip) (xmpp server) via eth0, device mtu $UNDERLAY, minus 87" ] \
    || fail "node$i: mtu_source: $src"
  evctl "$(node_sock "$i" "$d")" status | grep -qxF "  mtu $WANT ($src)" \
    || fail "node$i: evioctl status does not say \"mtu $WANT ($src)\""
  wait_until 10 "node$i's evbr0 to have mtu $WANT" \
    sh -c "[ \"\$(ip netns exec ${EVT_PREFIX}node$i cat /sys/class/net/evbr0/mtu)\" = $WANT ]"
  grep -q "evio-switchctl info main: overlay $NODE_OVERLAY: bridge mtu $WANT (auto: from evio (EVIO_AUTO_MTU))" \
    "$d/evio.log" || fail "node$i: evio-switchctl did not take evio's mtu: $(grep -i 'bridge mtu' "$d/evio.log")"
done

node_wait_link 1 "$(node_dir 1)" connected 60
node_wait_link 2 "$(node_dir 2)" connected 60
node_assert_direct 1 "$(node_dir 1)"
for i in 1 2; do
  grep -Eq "tap: [^ ]+: created, mac [0-9a-f:]+, mtu $WANT$" "$(node_dir "$i")/evio.log" \
    || fail "node$i: no TAP created with mtu $WANT"
done
node_wait_ping 1 10.250.0.2 10

# evio's fast path sends UDP GSO batches; the kernel cuts them at the
# device, after a capture would see them whole. With GSO off on eth0 it
# cuts them before (the same datagrams leave), so tcpdump sees each one.
ns node1 ethtool -K eth0 gso off tx-udp-segmentation off >/dev/null 2>&1 \
  || ns node1 ethtool -K eth0 gso off >/dev/null || fail "cannot turn GSO off on node1's eth0"
net_capture_start node1 eth0 "$EVT_TMP/eth0.pcap"; cap=$NET_CAPTURE_PID
log "DF ping of the bridge's full MTU ($WANT), node1 -> node2"
ns node1 ping -c 3 -i 0.2 -W 2 -M do -s $((WANT - 28)) 10.250.0.2 \
  || fail "a DF ping of $WANT bytes did not cross the overlay"
ns node1 ping -c 1 -W 1 -M do -s $((WANT - 27)) 10.250.0.2 >/dev/null 2>&1 \
  && fail "a DF ping of $((WANT + 1)) bytes passed a bridge of mtu $WANT"
head -c 2M /dev/urandom >"$EVT_TMP/blob"
net_tcp_listen node2 10.250.0.2 5001 "$EVT_TMP/blob.rx"
net_tcp_send node1 10.250.0.2 5001 "$EVT_TMP/blob" 60 || fail "TCP transfer failed"
wait "$NET_TCP_PID" || fail "the TCP receiver failed"
cmp -s "$EVT_TMP/blob" "$EVT_TMP/blob.rx" || fail "TCP: the 2 MB did not arrive intact"
net_capture_stop "$cap"

# what node1 sends (what it receives left node2 as GSO batches, whole)
out="src host $(net_node_ip 1)"
frags=$(tcpdump -n -r "$EVT_TMP/eth0.pcap" "$out and ip[6:2] & 0x3fff != 0" 2>/dev/null | wc -l)
big=$(tcpdump -n -r "$EVT_TMP/eth0.pcap" "$out and greater $((UNDERLAY + 15))" 2>/dev/null | wc -l)
largest=$(tcpdump -n -v -r "$EVT_TMP/eth0.pcap" "$out and udp" 2>/dev/null \
  | sed -n 's/.*, length \([0-9]*\)).*/\1/p' | sort -n | tail -1)
log "node1 eth0 out: $frags IP fragments, $big packets over $UNDERLAY bytes," \
    "largest IP packet of UDP ${largest:-none} bytes"
[ "$frags" = 0 ] || fail "$frags IP fragments on the underlay"
[ "$big" = 0 ] || fail "$big packets larger than the underlay's MTU"
[ "${largest:-0}" -gt $((UNDERLAY - 100)) ] || fail "no full-size datagram seen: the check proves nothing"
echo "mtu_auto: ok"
