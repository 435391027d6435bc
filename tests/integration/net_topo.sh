#!/bin/bash
# The test bench itself: the emulated NATed internet and coturn work, before
# any evio program is involved.
#
#   node1 10.99.1.10 --- nat1 [10.99.1.1 | 10.99.100.1 MASQ] ---+
#                                                               br0 (pub, 10.99.100.254)
#   node2 10.99.2.10 --- nat2 [10.99.2.1 | 10.99.100.2 MASQ] ---+      |
#                                                               srv 10.99.100.10 (coturn)
#
# Checks: both nodes reach srv; srv sees node1 as its NAT's address; private
# addresses are unreachable across the internet; a TURN relay allocation from
# node1 (behind its NAT) relays data (turnutils_uclient, client to client).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/net.sh"
source "$EVT_TOP/tests/lib/coturn.sh"
evt_init

net_up 2
srv=$(net_srv_ip)

for i in 1 2; do
  log "node$i pings the server $srv"
  ns node$i ping -c 1 -W 2 "$srv" >/dev/null || fail "node$i cannot reach $srv"
done

log "the server sees node1 as 10.99.100.1 (masqueraded)"
bg srv "$EVT_TMP/nc.log" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.100.10", 4000))
data, addr = s.recvfrom(100)
print("from", addr[0], data.decode())
' >/dev/null
srvpid=${EVT_PIDS[-1]}
wait_until 5 "udp listener on srv" bash -c "ip netns exec ${EVT_PREFIX}srv ss -Hlun src $srv:4000 | grep -q ."
ns node1 python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", ("10.99.100.10", 4000))'
wait_until 5 "srv got the datagram" grep -q hello "$EVT_TMP/nc.log"
grep -q "from 10.99.100.1 hello" "$EVT_TMP/nc.log" || fail "srv saw: $(cat "$EVT_TMP/nc.log")"
kill_wait "$srvpid" || true   # (kill_wait is not set -e safe)

log "node1 cannot reach node2's private address"
if ns node1 ping -c 1 -W 1 "$(net_node_ip 2)" >/dev/null 2>&1; then
  fail "node1 reached $(net_node_ip 2): the internet forwards private addresses"
fi

coturn_start srv "$EVT_TMP/coturn" "$srv"

log "TURN relay allocation from node1 through its NAT (turnutils_uclient -y)"
out=$EVT_TMP/uclient.log
ns node1 timeout 30 turnutils_uclient -v -y -n 10 -m 1 -l 100 \
  -u "$COTURN_USER" -w "$COTURN_PASSWORD" "$srv" >"$out" 2>&1 \
  || { tail -n 20 "$out"; fail "turnutils_uclient failed"; }
grep -E "Received relay addr|Total lost" "$out" | sed 's/^/#   /' || true
sent=$(sed -n 's/.*tot_send_msgs=\([0-9]*\).*/\1/p' "$out" | tail -n 1)
recv=$(sed -n 's/.*tot_recv_msgs=\([0-9]*\).*/\1/p' "$out" | tail -n 1)
[ -n "$sent" ] && [ -n "$recv" ] || { tail -n 20 "$out"; fail "no totals in turnutils_uclient output"; }
[ "$sent" -gt 0 ] && [ "$recv" -eq "$sent" ] || { tail -n 20 "$out"; fail "relay: sent $sent, received $recv"; }
grep -q "Received relay addr: $srv:" "$out" || fail "no relay address on $srv in the allocation"
log "relay ok: $sent messages sent, $recv received through coturn"
echo "net_topo: ok"
