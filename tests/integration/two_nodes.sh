#!/bin/bash
# Two evio nodes behind two home-router NATs form a direct link (srflx/srflx,
# no TURN) and carry traffic, encrypted.
#
#   node1 [evbr0 10.250.0.1] 10.99.1.10 -- nat1 (MASQ) --+
#                                                        br0 "pub" 10.99.100.254  <- capture here
#   node2 [evbr0 10.250.0.2] 10.99.2.10 -- nat2 (MASQ) --+
#                                                        |
#                                 srv 10.99.100.10: prosody (STARTTLS, test CA) + coturn
#
# Checks: the link is connected on both nodes; ping across the overlay both
# ways; 10 MB over TCP arrive intact; a marker sent through the overlay never
# appears on the internet (0 hits on br0) but does on node1's evbr0.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

nodes_up 2

log "waiting for the link (up to 60 s)"
t0=$(date +%s%N)
node_wait_link 1 "$EVT_TMP/node1" connected 60
node_wait_link 2 "$EVT_TMP/node2" connected 60
log "link connected after $(( ($(date +%s%N) - t0) / 1000000 )) ms:" \
    "$(node_link 1 "$EVT_TMP/node1" | jq -c '{peer, state, local_type, remote_type}')"
node_assert_direct 1 "$EVT_TMP/node1"
node_assert_direct 2 "$EVT_TMP/node2"

log "ping node1 -> 10.250.0.2 and node2 -> 10.250.0.1"
node_wait_ping 1 10.250.0.2 10
ns node1 ping -c 3 -i 0.2 -W 2 10.250.0.2 || fail "node1 cannot ping 10.250.0.2 over the overlay"
ns node2 ping -c 3 -i 0.2 -W 2 10.250.0.1 || fail "node2 cannot ping 10.250.0.1 over the overlay"

log "10 MB of random bytes over TCP, node1 -> node2"
head -c 10M /dev/urandom >"$EVT_TMP/blob"
net_tcp_listen node2 10.250.0.2 5001 "$EVT_TMP/blob.rx"
t0=$(date +%s%N)
net_tcp_send node1 10.250.0.2 5001 "$EVT_TMP/blob" 120 || fail "TCP transfer failed"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$NET_TCP_PID" || fail "the TCP receiver failed: $(cat "$EVT_TMP/blob.rx.rx.log")"
a=$(sha256sum <"$EVT_TMP/blob") b=$(sha256sum <"$EVT_TMP/blob.rx")
[ "$a" = "$b" ] || fail "TCP: received $(stat -c %s "$EVT_TMP/blob.rx") bytes, sha256 differs"
log "10 MB intact in $ms ms ($(( 10 * 8 * 1000 / (ms > 0 ? ms : 1) )) Mbit/s)"

log "a marker through the overlay is invisible on the internet"
marker=EVIO-MARKER-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$(for k in $(seq 200); do printf '%s ' "$marker"; done)" >"$EVT_TMP/marker.txt"
net_capture_start pub "$(net_pub_if)" "$EVT_TMP/pub.pcap";  cap_pub=$NET_CAPTURE_PID
net_capture_start node1 evbr0 "$EVT_TMP/evbr0.pcap";        cap_br=$NET_CAPTURE_PID
net_tcp_listen node2 10.250.0.2 5002 "$EVT_TMP/marker.rx"
net_tcp_send node1 10.250.0.2 5002 "$EVT_TMP/marker.txt" || fail "marker transfer failed"
cmp -s "$EVT_TMP/marker.txt" "$EVT_TMP/marker.rx" || fail "marker did not arrive intact"
net_capture_stop "$cap_pub"
net_capture_stop "$cap_br"
on_pub=$(pcap_count "$EVT_TMP/pub.pcap" "$marker")
on_br=$(pcap_count "$EVT_TMP/evbr0.pcap" "$marker")
log "marker hits: internet (pub br0) $on_pub, node1 evbr0 $on_br;" \
    "pcap sizes $(stat -c %s "$EVT_TMP/pub.pcap") / $(stat -c %s "$EVT_TMP/evbr0.pcap") bytes"
[ "$on_br" -gt 0 ] || fail "marker not seen on node1's evbr0: the capture check cannot work"
[ "$(stat -c %s "$EVT_TMP/pub.pcap")" -gt 5000 ] || fail "the internet capture is (nearly) empty"
[ "$on_pub" = 0 ] || fail "marker seen $on_pub times in clear on the internet"
echo "two_nodes: ok"
