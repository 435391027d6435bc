#!/bin/bash
# The overlay as one Ethernet segment, seen by what users put on it. Six
# NATed nodes form a bare ring (one successor each, no long-distance edges),
# so node1 and the node opposite it ("far") are 3 overlay hops apart:
#
#              node1 -- a -- b -- far -- c -- d -- (node1)     (ring by ID)
#   each node: [OVS bridge evbr0] evbr0 10.250.0.<i>/24, mtu 1410
#              + leaf ports this test adds: a VLAN trunk, a DHCP client
#                "container" h<far>, a host "mv" that moves between nodes
#
# Checks:
#  1. the largest unfragmented IPv4 packet (1410 bytes) crosses 3 hops;
#  2. 802.1Q frames (VLAN 42) cross 3 hops both ways;
#  3. an mDNS-like multicast from node1 reaches every other node exactly once;
#  4. a DHCP client behind the far node gets a lease from dnsmasq on node1;
#     with its veth's default offloads (partial TCP/UDP checksums) it then
#     talks TCP and UDP to its own node and to node1, and its multicast
#     reaches every node once; with 2% loss into the client (its segments
#     carry SACK options, which OVS makes too long), no link drops a frame;
#  5. a host moved to another node is reachable again within 10 s of its
#     gratuitous ARPs;
#  6. a TCP transfer across 3 hops survives the cut of the overlay link in
#     the middle of its path (rerouted, or carried again by the re-made link).
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/topo.sh"
evt_init

for t in dnsmasq busybox arping nft ovs-vsctl ovs-appctl python3 jq ethtool; do
  command -v $t >/dev/null || fail "$t is not installed (scripts/deps.sh)"
done

N=6
all=$(seq 1 $N)
# no shortcuts: the transfer of check 6 must stay on the ring to be cut there
nodes_up $N successors=1 long=0 shortcut_kbps=0
TOPO_K=0 topo_wait 120 $all
j=$(topo_collect $all)
topo_summary "$j" | sed 's/^/    /'
[ "$(jq '[.[].edges[] | select(.state == "connected")] | length' <<<"$j")" = $((2 * N)) ] \
  || fail "expected a bare ring of $N links (each seen from both ends)"

# ---- helpers --------------------------------------------------------------

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# vsctl I ARGS...: ovs-vsctl against node I's private OVS
vsctl() { local i=$1; shift; ns "node$i" ovs-vsctl --timeout=10 --db=unix:"$(node_dir "$i")/ovs/db.sock" "$@"; }
swctl() { evctl "$(node_dir "$1")/run/switchctl.sock" --json "${@:2}"; }

topo_geometry "$j"
FAR=
for i in $all; do [ "$(topo_dist 1 "$i")" = 3 ] && FAR=$i; done
[ -n "$FAR" ] || fail "no node 3 hops from node1"
log "ring order: $(for p in $(seq 0 $((N - 1))); do printf 'node%s ' "${TOPO_RING[$p]}"; done); node1 <-> node$FAR: 3 hops"

# _leaf_listed I PORT: node I's switch has PORT with an OpenFlow port number
_leaf_listed() {
  swctl "$1" bridge/status | jq -e --arg p "$2" '.bridges[0].ports | any(.port == $p and .ofport > 0)' >/dev/null
}
# leaf_attach I PORT HOSTNS [MAC]: a veth from node I's bridge (end PORT, a
# leaf port) to eth0 in namespace HOSTNS (MAC fixed if given), both ends with
# the kernel's default offloads, as a container runtime leaves them; returns
# once node I's switch uses the port. eth0 is left up without an address.
leaf_attach() {
  local i=$1 port=$2 h=$3 mac=${4:-}
  ip link add "$port" netns "${EVT_PREFIX}node$i" type veth peer name eth0 netns "${EVT_PREFIX}$h" \
    || fail "cannot create veth $port (node$i) <-> eth0 ($h)"
  [ -z "$mac" ] || ns "$h" ip link set eth0 address "$mac"
  tx_csum_on "$h" eth0
  ns "node$i" ip link set "$port" up
  ns "$h" ip link set eth0 up
  vsctl "$i" add-port evbr0 "$port" || fail "cannot add $port to node$i's bridge"
  wait_until 10 "$port on node$i's switch" _leaf_listed "$i" "$port"
}

# ---- 1. largest frames ----------------------------------------------------

node_wait_ping 1 "10.250.0.$FAR" 30
wait_until 20 "node1 to reach node$FAR with a 1410-byte IPv4 packet (DF set)" \
  ns node1 ping -M do -s $((1410 - 28)) -c 1 -W 1 "10.250.0.$FAR"
log "1. largest frames: a 1410-byte IPv4 packet (DF) from node1 to node$FAR and back over 3 hops"
if out=$(ns node1 ping -M do -s $((1410 - 27)) -c 1 -W 1 "10.250.0.$FAR" 2>&1); then
  log "   (a 1411-byte packet with DF went through too: $(tail -n 1 <<<"$out"))"
else
  log "   1411 bytes with DF is refused locally: $(grep -o -m1 -i 'message too long.*' <<<"$out" || tail -n 1 <<<"$out")"
fi
for i in 1 "$FAR"; do
  log "   node$i: links dropped $(node_status "$i" "$(node_dir "$i")" \
    | jq '[.overlays[0].links[].drop_oversize // 0] | add') oversize frames"
done

# ---- 2. VLAN-tagged frames -------------------------------------------------
# This kernel has no 802.1Q devices (ip link ... type vlan: "Unknown device
# type") and no VLAN filtering on Linux bridges, so the tagging is done by
# OVS: a second bridge vl42 per node (NORMAL switching) with an access port
# v42 in VLAN 42, patched as a trunk to evbr0. Every frame between the two
# v42 ports crosses the overlay with an 802.1Q tag.

vlan_up() {
  local i=$1
  vsctl "$i" add-br vl42 -- set bridge vl42 datapath_type=netdev fail_mode=standalone \
    -- add-port vl42 v42 tag=42 -- set interface v42 type=internal \
    -- add-port vl42 pv42 -- set interface pv42 type=patch options:peer=pe42 \
    -- add-port evbr0 pe42 -- set interface pe42 type=patch options:peer=pv42 \
    || fail "node$i: cannot set up the VLAN 42 bridge"
  wait_until 10 "v42 in node$i" ns "node$i" ip link show v42
  ns "node$i" ip addr add "10.251.42.$i/24" dev v42
  ns "node$i" ip link set v42 up
  wait_until 10 "the VLAN trunk pe42 on node$i's switch" _leaf_listed "$i" pe42
}
vlan_up 1
vlan_up "$FAR"
wait_until 30 "node1 to reach node$FAR in VLAN 42" ns node1 ping -c 1 -W 1 "10.251.42.$FAR"
wait_until 30 "node$FAR to reach node1 in VLAN 42" ns "node$FAR" ping -c 1 -W 1 10.251.42.1
ns node1 ping -c 3 -i 0.2 -W 1 "10.251.42.$FAR" >/dev/null || fail "VLAN 42: node1 -> node$FAR lost packets"
# node1's VLAN bridge learned node FAR's v42 MAC in VLAN 42 on the trunk:
# the frames arrived tagged
far_mac=$(ns "node$FAR" cat /sys/class/net/v42/address)
fdb=$(ns node1 ovs-appctl -t "$(node_dir 1)/ovs/ovs-vswitchd.ctl" fdb/show vl42)
awk -v m="$far_mac" '$2 == 42 && $3 == m' <<<"$fdb" | grep -q . \
  || fail "node1's vl42 did not learn $far_mac in VLAN 42: $fdb"
log "2. VLAN 42: node1 <-> node$FAR ping both ways; node1 learned $far_mac in VLAN 42 on the trunk"

# ---- 3. multicast like mDNS ------------------------------------------------

MDNS_RX='
import socket, sys
grp, ifip, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((grp, 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(grp) + socket.inet_aton(ifip))
print("joined", grp, "on", ifip, flush=True)
with open(out, "ab", buffering=0) as f:
    while True:
        d, peer = s.recvfrom(2048)
        f.write(d + b"\n")
'
# node1 listens too (for check 4), and hears its own datagrams back
for i in $all; do
  : >"$EVT_TMP/mdns$i.rx"
  bg "node$i" "$EVT_TMP/mdns$i.log" python3 -c "$MDNS_RX" 224.0.0.251 "10.250.0.$i" "$EVT_TMP/mdns$i.rx" >/dev/null
  wait_until 10 "the multicast receiver on node$i" grep -q joined "$EVT_TMP/mdns$i.log"
done
# send_mdns NS IP TEXT: one datagram to 224.0.0.251:5353 from IP in NS
send_mdns() {
  ns "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.sendto(sys.argv[2].encode(), ("224.0.0.251", 5353))' "$2" "$3"
}
# _mdns_everywhere TEXT [SKIP]: every node but SKIP has received TEXT
_mdns_everywhere() {
  local i
  for i in $all; do
    [ "$i" = "${2:-}" ] && continue
    grep -qx "$1" "$EVT_TMP/mdns$i.rx" || { echo "not yet on node$i"; return 1; }
  done
}
m1=evio-mdns-one-$$ m2=evio-mdns-two-$$
send_mdns node1 10.250.0.1 "$m1"
send_mdns node1 10.250.0.1 "$m2"
wait_until 20 "the second multicast datagram on every node" _mdns_everywhere "$m2" 1
for i in $all; do
  [ "$i" = 1 ] && continue
  c=$(grep -cx "$m1" "$EVT_TMP/mdns$i.rx" || true)
  [ "$c" = 1 ] || fail "node$i received node1's multicast datagram $c times, expected exactly 1"
done
log "3. multicast: 224.0.0.251:5353 from node1 received exactly once on each of the other $((N - 1)) nodes"

# ---- 4. DHCP ---------------------------------------------------------------

bg node1 "$EVT_TMP/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
  --interface=evbr0 --bind-interfaces --dhcp-range=10.250.0.100,10.250.0.150,255.255.255.0,1h \
  --dhcp-leasefile="$EVT_TMP/leases" --pid-file="$EVT_TMP/dnsmasq.pid" --log-dhcp >/dev/null
DNSMASQ_PID=${EVT_PIDS[-1]}
_dnsmasq_listening() { ns node1 ss -Hlun 'sport = :67' | grep -q .; }
wait_until 10 "dnsmasq listening on node1's port 67" _dnsmasq_listening
kill -0 "$DNSMASQ_PID" 2>/dev/null || fail "dnsmasq exited: $(tail -n 5 "$EVT_TMP/dnsmasq.log")"

H=h$FAR
ns_add "$H"
leaf_attach "$FAR" "c$FAR" "$H"
cat >"$EVT_TMP/udhcpc.sh" <<EOF
#!/bin/sh
# udhcpc's event script: apply the lease to \$interface, note the address
case "\$1" in
  deconfig) ip -4 addr flush dev "\$interface" ;;
  bound|renew)
    ip -4 addr flush dev "\$interface"
    ip addr add "\$ip/\${mask:-24}" dev "\$interface"
    echo "\$ip" >"$EVT_TMP/lease" ;;
esac
EOF
chmod +x "$EVT_TMP/udhcpc.sh"
t0=$(now_ms)
ns "$H" timeout 60 busybox udhcpc -f -q -n -t 10 -T 2 -i eth0 -s "$EVT_TMP/udhcpc.sh" \
  >"$EVT_TMP/udhcpc.log" 2>&1 || fail "no DHCP lease in $H: $(tail -n 5 "$EVT_TMP/udhcpc.log")"
lease=$(cat "$EVT_TMP/lease" 2>/dev/null || true)
last=${lease##*.}
[[ $lease == 10.250.0.* ]] && [ "$last" -ge 100 ] && [ "$last" -le 150 ] \
  || fail "DHCP gave $H '$lease', expected 10.250.0.100-150"
ns "$H" ip -4 addr show dev eth0 | grep -q "inet $lease/24" || fail "$H: $lease is not on eth0"
wait_until 10 "$H ($lease) to reach node1" ns "$H" ping -c 1 -W 1 10.250.0.1
log "4. DHCP: $H behind node$FAR leased $lease from dnsmasq on node1 in $(( $(now_ms) - t0 )) ms and pings 10.250.0.1"
l4_echo_start "node$FAR" "10.250.0.$FAR" 7000
l4_echo_start node1 10.250.0.1 7000
l4_echo_check "$H" "10.250.0.$FAR" 7000 || fail "$H: TCP/UDP to its own node$FAR (see above)"
l4_echo_check "$H" 10.250.0.1 7000 || fail "$H: TCP/UDP to node1, 3 hops (see above)"
m3=evio-mdns-host-$$
send_mdns "$H" "$lease" "$m3"
wait_until 20 "$H's multicast datagram on every node" _mdns_everywhere "$m3"
for i in $all; do
  c=$(grep -cx "$m3" "$EVT_TMP/mdns$i.rx" || true)
  [ "$c" = 1 ] || fail "node$i received $H's multicast datagram $c times, expected exactly 1"
done
log "   $H (tx checksum offload on) echoes 1 MB over TCP and a UDP datagram with node$FAR (same bridge) and node1 (3 hops); its multicast reached all $N nodes once"

# 4b. Segments with SACK blocks. H drops 1 in 50 of the segments node1's
# echo sends it, so H's own data segments carry SACK options. H sends them
# as TSO packets into node$FAR's OVS (a veth's default offloads), and OVS
# 3.1's userspace TSO cuts them for the link TAP as if the TCP header had no
# options (tincan/tcpseg.h), making segments up to 26 bytes longer than the
# link's MTU: evio-tincan must cut them again, not drop them (dropped, they
# stall the connection for seconds: the flake this check was written for).
oversize_all() {
  local i t=0
  for i in $all; do
    t=$((t + $(node_status "$i" "$(node_dir "$i")" | jq '[.overlays[0].links[].drop_oversize // 0] | add // 0')))
  done
  echo "$t"
}
reseg_far() { node_status "$FAR" "$(node_dir "$FAR")" | jq '[.overlays[0].links[].tcp_resegmented // 0] | add // 0'; }
over0=$(oversize_all) reseg0=$(reseg_far)
ns "$H" nft -f - <<NFT || fail "nftables loss rule in $H"
table inet sackloss {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" tcp sport 7000 numgen random mod 50 == 0 drop
  }
}
NFT
for k in 1 2 3; do
  l4_echo_check "$H" 10.250.0.1 7000 || fail "$H: TCP to node1 with 2% loss, transfer $k (see above)"
done
ns "$H" nft delete table inet sackloss
over1=$(oversize_all) reseg=$(( $(reseg_far) - reseg0 ))
[ "$over1" = "$over0" ] \
  || fail "links dropped $((over1 - over0)) oversize frames during the transfers with SACK (expected 0)"
[ "$reseg" -gt 0 ] || fail "node$FAR cut no TCP segment: the transfers did not exercise oversize segments"
log "   with 2% loss into $H: 3 MB echoed intact; node$FAR cut $reseg of $H's TCP segments that OVS made too long, no link dropped a frame"

# ---- 5. host move ----------------------------------------------------------

MV_MAC=02:00:00:00:aa:01 MV_IP=10.250.0.200 PINGER=5
MV_TO= best=-1
for i in $all; do
  case $i in 2|$PINGER) continue ;; esac
  d=$(topo_dist 2 "$i")
  [ "$d" -gt "$best" ] && { best=$d; MV_TO=$i; }
done
ns_add mv
# no IPv6: nothing but the gratuitous ARPs may tell the switches where mv went
ns mv sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
mv_attach() {
  leaf_attach "$1" "m$1" mv "$MV_MAC"
  ns mv ip addr add "$MV_IP/24" dev eth0
}
mv_attach 2
wait_until 20 "node$PINGER to reach mv ($MV_IP) on node2" ns "node$PINGER" ping -c 1 -W 1 "$MV_IP"
ns "node$PINGER" ping -c 3 -i 0.2 -W 1 "$MV_IP" >/dev/null || fail "node$PINGER -> mv on node2 lost packets"
log "5. host move: mv ($MV_MAC, $MV_IP) on node2, node$PINGER pings it; moving it to node$MV_TO ($best hops from node2)"
# a ping every 0.1 s through the move times the outage; the check itself
# polls with ping -c 1
bg "node$PINGER" "$EVT_TMP/moveping.log" ping -D -i 0.1 -W 1 "$MV_IP" >/dev/null
MOVEPING_PID=${EVT_PIDS[-1]}
wait_until 10 "the move ping's first reply" grep -q "bytes from" "$EVT_TMP/moveping.log"
vsctl 2 del-port evbr0 m2
ns node2 ip link del m2
mv_attach "$MV_TO"
t0=$(now_ms)
bg mv "$EVT_TMP/arping.log" arping -U -c 3 -I eth0 "$MV_IP" >/dev/null
wait_until 10 "node$PINGER to reach mv again after its move to node$MV_TO" \
  ns "node$PINGER" ping -c 1 -W 1 "$MV_IP"
poll_ms=$(( $(now_ms) - t0 ))
kill_wait "$MOVEPING_PID"
# ping -D lines: "[EPOCH.USEC] 64 bytes from ...": the first reply after the ARPs started
MOVE_MS=$(awk -v c="$t0" -F'[][]' '/bytes from/ { t = $2 * 1000; if (t > c) { printf "%d", t - c; exit } }' "$EVT_TMP/moveping.log")
[ -n "$MOVE_MS" ] || MOVE_MS=$poll_ms
log "   node$PINGER reaches mv on node$MV_TO $MOVE_MS ms after its first gratuitous ARP (ping every 0.1 s; the ping -c 1 poll succeeded after $poll_ms ms)"

# ---- 6. link cut and reroute -----------------------------------------------
# node1 sends 30 MB to the far node at 2 MB/s. The two 3-hop paths are
# node1 -> a -> b -> far and node1 -> d -> c -> far; the middle link of the
# one the bytes take (a-b or d-c) is cut with nftables at both of its ends.

A=1 B=$FAR
P1=$(topo_ring_at $A 1) P2=$(topo_ring_at $A 2) Q1=$(topo_ring_at $A -1) Q2=$(topo_ring_at $A -2)
[ "$(topo_ring_at $A 3)" = "$B" ] || fail "ring geometry: node$B is not 3 places from node$A"

TCP_RX='
import hashlib, os, socket, sys, time
ip, port, prog, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(1)
n = 0
def progress():
    with open(prog + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.replace(prog + ".tmp", prog)
progress()
c, peer = s.accept()
h = hashlib.sha256()
last = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d)
    n += len(d)
    if time.monotonic() - last >= 0.05:
        progress()
        last = time.monotonic()
progress()
with open(out, "w") as f:
    f.write("%s %d\n" % (h.hexdigest(), n))
c.close()
print("received", n, "bytes from", peer[0])
'
TCP_TX='
import hashlib, os, socket, sys, time
ip, port, total, rate, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = socket.create_connection((ip, port), timeout=10)
s.settimeout(None)
h = hashlib.sha256()
sent = 0
t0 = time.monotonic()
while sent < total:
    d = os.urandom(min(65536, total - sent))
    s.sendall(d)
    h.update(d)
    sent += len(d)
    ahead = sent / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
s.shutdown(socket.SHUT_WR)
s.recv(1)
with open(out, "w") as f:
    f.write("%s %d\n" % (h.hexdigest(), sent))
print("sent", sent, "bytes in %.1f s" % (time.monotonic() - t0))
'
# transfer_start TAG PORT BYTES RATE: receiver on node B, then the sender on
# node A in the background (PID in TX_PID); files $EVT_TMP/TAG.{prog,rx,tx}
transfer_start() {
  local tag=$1 port=$2 bytes=$3 rate=$4
  bg "node$B" "$EVT_TMP/$tag.rx.log" python3 -c "$TCP_RX" "10.250.0.$B" "$port" \
    "$EVT_TMP/$tag.prog" "$EVT_TMP/$tag.rx" >/dev/null
  wait_until 10 "the TCP receiver on node$B:$port" _net_tcp_listening "node$B" "10.250.0.$B" "$port"
  bg "node$A" "$EVT_TMP/$tag.tx.log" python3 -c "$TCP_TX" "10.250.0.$B" "$port" "$bytes" "$rate" \
    "$EVT_TMP/$tag.tx" >/dev/null
  TX_PID=${EVT_PIDS[-1]}
}
received() { cat "$EVT_TMP/$1.prog" 2>/dev/null || echo 0; }
_received_at_least() { local n; n=$(received "$1"); echo "$n bytes so far"; [ "$n" -ge "$2" ]; }
_gone() { ! kill -0 "$1" 2>/dev/null; }
# transfer_check TAG: the receiver got exactly what the sender sent
transfer_check() {
  local tx rx
  tx=$(cat "$EVT_TMP/$1.tx" 2>/dev/null) || fail "$1: the sender wrote no checksum: $(tail -n 3 "$EVT_TMP/$1.tx.log")"
  wait_until 10 "$1: the receiver's checksum" test -s "$EVT_TMP/$1.rx"
  rx=$(cat "$EVT_TMP/$1.rx")
  [ "$tx" = "$rx" ] || fail "$1: sent sha256/bytes $tx, received $rx"
}
# link_field X Y FIELD: FIELD of node X's link to node Y
link_field() {
  node_status "$1" "$(node_dir "$1")" \
    | jq -r --arg p "${TOPO_ID[$2]}" --arg f "$3" '.overlays[0].links[] | select(.peer == $p) | .[$f] // empty'
}
link_tx() { local v; v=$(link_field "$1" "$2" tx_bytes); echo "${v:-0}"; }

TOTAL=$((30 * 1024 * 1024)) RATE=$((2 * 1024 * 1024))
p_before=$(link_tx "$P1" "$P2") q_before=$(link_tx "$Q1" "$Q2")
transfer_start big 5001 $TOTAL $RATE
# a ping alongside (informational): when plain frames cross again
bg "node$A" "$EVT_TMP/cutping.log" ping -D -i 0.2 -W 1 "10.250.0.$B" >/dev/null
CUTPING_PID=${EVT_PIDS[-1]}
wait_until 60 "a quarter of the 30 MB at node$B" _received_at_least big $((TOTAL / 4))
p_delta=$(( $(link_tx "$P1" "$P2") - p_before )) q_delta=$(( $(link_tx "$Q1" "$Q2") - q_before ))
log "6. link cut: after $(( $(received big) / 1048576 )) MB, node$P1->node$P2 sent $p_delta bytes, node$Q1->node$Q2 sent $q_delta bytes"
if [ "$p_delta" -ge "$q_delta" ]; then X=$P1 Y=$P2 M=$p_delta; else X=$Q1 Y=$Q2 M=$q_delta; fi
PATH_USED="node$A -> node$X -> node$Y -> node$B"
[ "$M" -ge $((TOTAL / 8)) ] || fail "neither middle link carries the transfer (node$P1->node$P2 $p_delta, node$Q1->node$Q2 $q_delta bytes)"
log "   the bytes take $PATH_USED; cutting node$X <-> node$Y"

# cut_at NODE IP:PORT: drop UDP to and from IP:PORT in NODE's namespace
CUT_NS=()
cut_at() {
  local n=$1 ip=${2%:*} port=${2##*:}
  [ -n "$ip" ] && [ -n "$port" ] || fail "cut: no address to cut in $n ('$2')"
  ns "$n" nft -f - <<NFT || fail "cut: nftables rules in $n"
table inet cut {
  chain o { type filter hook output priority 0; ip daddr $ip udp dport $port drop; }
  chain i { type filter hook input priority 0; ip saddr $ip udp sport $port drop; }
}
NFT
  CUT_NS+=("$n")
}
for s in "$X $Y" "$Y $X"; do
  set -- $s
  log "   node$1's link to node$2: $(link_field "$1" "$2" local_type) $(link_field "$1" "$2" local_addr) <-> $(link_field "$1" "$2" remote_type) $(link_field "$1" "$2" remote_addr)"
done
X_REMOTE=$(link_field "$X" "$Y" remote_addr) Y_REMOTE=$(link_field "$Y" "$X" remote_addr)
X_LINK=$(link_field "$X" "$Y" link_id)
X_LT=$(link_field "$X" "$Y" local_type) Y_LT=$(link_field "$Y" "$X" local_type)
cut_at "node$X" "$X_REMOTE"
cut_at "node$Y" "$Y_REMOTE"
if [ "$X_LT" = relay ] && [ "$Y_LT" = relay ]; then
  # relay to relay: both nodes only talk to the TURN server; cut the two
  # relayed addresses at the server instead (they are its own)
  log "   both ends relayed: cutting the relay ports in srv too"
  ns srv nft -f - <<NFT || fail "cut: nftables rules in srv"
table inet cut {
  chain o { type filter hook output priority 0; udp dport { ${X_REMOTE##*:}, ${Y_REMOTE##*:} } drop;
                                                 udp sport { ${X_REMOTE##*:}, ${Y_REMOTE##*:} } drop; }
}
NFT
  CUT_NS+=(srv)
fi
CUT_MS=$(now_ms)

# Watch the receiver: a stall (no byte for 1 s) after the cut, then growth;
# and note when node X has a new link to node Y (informational).
last_n=$(received big) last_ms=$CUT_MS STALL_MS= RESUME_MS= LINK_BACK_MS=
_reroute_seen() {
  local n t
  n=$(received big) t=$(now_ms)
  if [ -z "$LINK_BACK_MS" ] && [ "$(link_field "$X" "$Y" state)" = connected ] \
     && [ "$(link_field "$X" "$Y" link_id)" != "$X_LINK" ]; then
    LINK_BACK_MS=$t
  fi
  if [ "$n" -gt "$last_n" ]; then
    last_n=$n last_ms=$t
    [ -n "$STALL_MS" ] && { RESUME_MS=$t; return 0; }
  elif [ -z "$STALL_MS" ] && [ $((t - last_ms)) -ge 1000 ]; then
    STALL_MS=$last_ms
  fi
  _gone "$TX_PID" && return 0   # the sender finished (or died) first
  echo "received $n bytes, stalled since: ${STALL_MS:-not stalled}"
  return 1
}
wait_until 90 "traffic to flow again after cutting node$X <-> node$Y" _reroute_seen
if [ -z "$STALL_MS" ]; then
  fail "cutting node$X <-> node$Y did not interrupt the transfer (its sender ended with $(received big) bytes received)"
fi
if [ -n "$RESUME_MS" ]; then
  REROUTE_MS=$((RESUME_MS - CUT_MS))
  log "   reroute: traffic flowing again $REROUTE_MS ms after the cut (last byte before the stall at +$((STALL_MS - CUT_MS)) ms)"
fi
kill_wait "$CUTPING_PID"
# ping -D lines: "[EPOCH.USEC] 64 bytes from ...": the first reply after the cut
ping_back=$(awk -v c="$CUT_MS" -F'[][]' '/bytes from/ { t = $2 * 1000; if (t > c) { printf "%d", t - c; exit } }' "$EVT_TMP/cutping.log")
link_back="not before the traffic flowed"
[ -z "$LINK_BACK_MS" ] || link_back="$((LINK_BACK_MS - CUT_MS)) ms after the cut"
log "   (node$X's new link to node$Y connected $link_back; a ping node$A -> node$B alongside: first reply ${ping_back:-never} ms after the cut)"
left=$(( 90 - ($(now_ms) - CUT_MS) / 1000 ))
[ "$left" -gt 1 ] || left=1
wait_until "$left" "the 30 MB transfer to end (within 90 s of the cut)" _gone "$TX_PID"
rc=0; wait "$TX_PID" || rc=$?
for s in "$X $Y" "$Y $X"; do
  set -- $s
  log "   now node$1's link to node$2: $(link_field "$1" "$2" state) $(link_field "$1" "$2" local_type) $(link_field "$1" "$2" local_addr) <-> $(link_field "$1" "$2" remote_type) $(link_field "$1" "$2" remote_addr)"
done
if [ "$rc" = 0 ]; then
  [ -n "${REROUTE_MS:-}" ] || fail "the transfer ended during the stall"
  transfer_check big
  log "   the 30 MB transfer survived the cut intact ($(cut -d' ' -f2 "$EVT_TMP/big.rx") bytes, sha256 equal)"
else
  log "   the 30 MB transfer died (sender exit $rc: $(tail -n 1 "$EVT_TMP/big.tx.log")); a second one of 5 MB"
  transfer_start small 5002 $((5 * 1024 * 1024)) $RATE
  wait_until 60 "the 5 MB transfer to end" _gone "$TX_PID"
  rc=0; wait "$TX_PID" || rc=$?
  [ "$rc" = 0 ] || fail "the 5 MB transfer after the cut failed too: $(tail -n 3 "$EVT_TMP/small.tx.log")"
  transfer_check small
  log "   the 5 MB transfer after the cut arrived intact"
fi
for n in "${CUT_NS[@]}"; do ns "$n" nft delete table inet cut; done

log "figures: host move ${MOVE_MS} ms, reroute ${REROUTE_MS:-n/a} ms"
echo "segment_6: ok"
