#!/bin/bash
# A bridge MTU above what the path carries: 1410 (evio's MTU before "auto",
# and what a hand-written config often says) on nodes whose LAN is 1400
# bytes, as this machine's own uplink is. The outer datagrams are then too
# big for the path; the kernel fragments them if they are sent one per call,
# but refuses a UDP GSO batch (EMSGSIZE on this kernel, EINVAL on others).
#
# Checks: the link is direct on the fast path; a DF ping of the full 1410
# bytes crosses; 4 MB over TCP arrive intact; node1's datapath dropped no
# datagram on send (link/stats drop_send), having fallen back from GSO to
# one datagram per call. Without the fallback on EMSGSIZE the batches are
# dropped (drop_send > 0) and the TCP transfer stalls on their loss.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

net_up 2
node_servers 2
for i in 1 2; do
  ns "node$i" ip link set eth0 mtu 1400
  ns "nat$i" ip link set "l-$i" mtu 1400
  node_config "$i" "$(node_dir "$i")"   # bridge mtu 1410
done
for i in 1 2; do node_start "$i" "$(node_dir "$i")"; done
node_wait_link 1 "$(node_dir 1)" connected 60
node_assert_direct 1 "$(node_dir 1)"
node_wait_ping 1 10.250.0.2 10
ns node1 ping -c 3 -i 0.2 -W 2 -M do -s $((1410 - 28)) 10.250.0.2 >/dev/null \
  || fail "a DF ping of 1410 bytes did not cross a 1400-byte path"

head -c 4M /dev/urandom >"$EVT_TMP/blob"
net_tcp_listen node2 10.250.0.2 5001 "$EVT_TMP/blob.rx"
net_tcp_send node1 10.250.0.2 5001 "$EVT_TMP/blob" 60 || fail "TCP transfer failed"
wait "$NET_TCP_PID" || fail "the TCP receiver failed"
cmp -s "$EVT_TMP/blob" "$EVT_TMP/blob.rx" || fail "TCP: the 4 MB did not arrive intact"

link=$(node_link 1 "$(node_dir 1)" link_id)
st=$(evctl "$(node_tincan_sock 1 "$(node_dir 1)")" link/stats "{\"link_id\":\"$link\"}" | jq -c '.links[0]')
log "node1's link: $(jq -c '{path, drop_send, fast_tx_sends, fast_tx_datagrams}' <<<"$st")"
[ "$(jq -r .path <<<"$st")" = fast ] || fail "the link is not on the fast path"
[ "$(jq -r .drop_send <<<"$st")" = 0 ] || fail "node1's fast path dropped $(jq -r .drop_send <<<"$st") datagrams on send"
grep -q "fast path: UDP GSO refused" "$(node_dir 1)/evio.log" \
  || fail "node1 never fell back from UDP GSO: the test did not send oversize batches"
log "DF 1410 crosses a 1400 path; 4 MB intact; no datagram dropped on send ($(grep -m1 -o 'UDP GSO refused.*' "$(node_dir 1)/evio.log"))"
