#!/bin/bash
# A member of the overlay cannot hijack a local host's L2 traffic, nor make
# a switch flood, learn or work without bound (issue 16, item 3).
#
#   node1 [evbr0 10.250.0.1] -- nat1 --+
#     ^ the attacker: writes crafted   +-- br0 "pub" -- srv: prosody + coturn
#       frames straight into its TAP   |
#   node2 [evbr0 10.250.0.2] -- nat2 --+
#     ^ the victim: its bridge's MAC V is a local MAC of node2's switch
#
# node1 pings node2 at 20/s throughout. Meanwhile, from node1's peer port
# (an AF_PACKET socket on its TAP: the frames reach node2 as if node1's
# switch had sent them, node1's own switch never sees them):
#   hijack     for 8 s, every 0.2 s: a gratuitous ARP for 10.250.0.2 from V
#              (a plain frame) and an announcement flood of V with root
#              node1 (a well-formed flood)
#   bad_root   50 floods whose root is neither node1 nor behind it
#   queries    1000 frames to 1000 unknown unicast MACs at about 2000/s
#              (each would make node2 flood a query over the overlay)
#   macs       12000 broadcasts from random source MACs at about 4000/s
# Pass: at most 3 pings lost; node2 still has V local; node2's counters on
# node1's port (bridge/status, `evioctl ports`) show macs_held,
# flood_bad_root, mac_queries_over_budget, packet_ins_metered and
# macs_over_limit; node2 sent at most 40 queries; its table holds at most
# a quarter of 4096 MACs behind node1; evio-switchctl did not restart.
# Figures printed: packet-ins taken and metered during the MAC blast, and
# evio-switchctl's CPU time for it.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

ctl() { local i=$1; shift; "$EVT_BUILD/evioctl" --run-dir "$(node_dir "$i")/run" "$@"; }
FAILS=()
bad() { log "FAIL: $*"; FAILS+=("$*"); }
# the ping stream (ping -O reports each unanswered one): highest seq so
# far, and how many of those went unanswered
ping_seq() { grep -o 'icmp_seq=[0-9]*' "$EVT_TMP/ping.log" | cut -d= -f2 | sort -n | tail -1; }
ping_lost() {
  local got; got=$(grep -c 'bytes from' "$EVT_TMP/ping.log" || true)
  echo $(( $(ping_seq) - got ))
}
_seq_past() { [ "$(ping_seq)" -ge "$1" ]; }

nodes_up 2
node_wait_link 1 "$(node_dir 1)" connected 60
node_wait_link 2 "$(node_dir 2)" connected 60
node_wait_ping 1 10.250.0.2 20
# node2's bridge sends a broadcast up (ARP): its MAC is learnt local there
ns node2 ping -c 2 -i 0.2 -W 2 10.250.0.1 >/dev/null || fail "node2 cannot ping node1"

vmac=$(ns node2 cat /sys/class/net/evbr0/address)
id1=$(node_status 1 "$(node_dir 1)" | jq -r .node_id)
id2=$(node_status 2 "$(node_dir 2)" | jq -r .node_id)
_vmac_local() {
  ctl 2 fdb --json | jq -e --arg m "$vmac" '.entries[] | select(.mac == $m and .peer == "local")'
}
wait_until 10 "node2 to have its bridge MAC $vmac local" _vmac_local
tap1=$(ctl 1 ports --json | jq -r --arg p "$id2" '.bridges[0].ports[] | select(.peer == $p) | .port')
[ -n "$tap1" ] || fail "node1 has no port to node2"
port2() { ctl 2 ports --json | jq --arg p "$id1" '.bridges[0].ports[] | select(.peer == $p)'; }
stats2() { ctl 2 ports --json | jq '.bridges[0].stats'; }
sw2pid=$(node_helper_pid 2 "$(node_dir 2)" evio-switchctl)
log "victim MAC $vmac (node2 $id2); attacker node1 $id1 writes into $tap1"

# inject MODE COUNT: crafted frames into node1's TAP (see the header)
inject() {
  ns node1 python3 - "$tap1" "$vmac" "$id1" "$1" "$2" <<'PY'
import os, socket, struct, sys, time
tap, vmac, id1, mode, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), \
    bytes.fromhex(sys.argv[3]), sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((tap, 0))
bcast = b"\xff" * 6
ip2 = socket.inet_aton("10.250.0.2")
def flood(root, bound, inner, ftype=4):
    return bcast + bytes.fromhex("02657669 6f00") + b"\x88\xb5" + \
        bytes([1, ftype, 1, 0]) + root + bound + inner
def garp():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, vmac, ip2, bcast, ip2)
    return bcast + vmac + b"\x08\x06" + arp + b"\0" * 18
for i in range(count):
    if mode == "hijack":
        s.send(garp())
        s.send(flood(id1, id1, bcast + vmac + b"\x88\xb6"))
        time.sleep(0.2)
    elif mode == "bad_root":
        root = os.urandom(16)
        if root != id1:
            s.send(flood(root, id1, bcast + b"\x02\x00\x00\x00\x00\x98" + b"\x88\xb6"))
    elif mode == "queries":
        dst = b"\x02\xee" + os.urandom(4)
        s.send(dst + b"\x02\x00\x00\x00\x00\x99" + b"\x08\x00" + b"\0" * 46)
        if i % 20 == 19:
            time.sleep(0.01)        # about 2000/s
    elif mode == "macs":
        s.send(bcast + b"\x02\xdd" + os.urandom(4) + b"\x08\x00" + b"\0" * 46)
        if i % 40 == 39:
            time.sleep(0.01)        # about 4000/s: within what OVS queues to us
PY
}

cpu_ms() { awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }

# ping node1 -> node2 at 20/s for 30 s, through every phase
bg node1 "$EVT_TMP/ping.log" ping -O -i 0.05 -c 600 -W 1 10.250.0.2 >/dev/null
ping_pid=${EVT_PIDS[-1]}
_pinging() { grep -q "icmp_seq=20 " "$EVT_TMP/ping.log"; }
wait_until 10 "the ping stream to start" _pinging

log "hijack: gratuitous ARP and announcement of $vmac from node1, 40 times in 8 s"
lost0=$(ping_lost)
inject hijack 40
_vmac_local >/dev/null || bad "node2 no longer has $vmac local: $(ctl 2 fdb --json | jq -c --arg m "$vmac" '.entries[] | select(.mac == $m)')"
seq=$(ping_seq)     # one more second of pings after the last claim
wait_until 5 "the ping stream to go on" _seq_past $((seq + 20))
lost1=$(ping_lost)
log "pings lost during the hijack: $((lost1 - lost0))"
[ $((lost1 - lost0)) -le 2 ] || bad "$((lost1 - lost0)) pings node1 -> node2 lost during the hijack"
_held() { [ "$(port2 | jq .macs_held)" -ge 40 ]; }
poll_until 5 _held || bad "node2 counted $(port2 | jq .macs_held) claims on $vmac as held, expected >= 40"

log "bad_root: 50 floods whose root is not behind node1"
inject bad_root 50
_bad_root() { [ "$(port2 | jq .flood_bad_root)" -ge 45 ]; }
poll_until 5 _bad_root || bad "node2 counted $(port2 | jq .flood_bad_root) floods with a bad root, expected >= 45"

q0=$(stats2 | jq .mac_queries_tx)
log "queries: 1000 frames to unknown unicast MACs"
inject queries 1000
# at least half arrive (ovs-vswitchd drops packet-ins beyond 100 queued)
_over_budget() { [ "$(port2 | jq .mac_queries_over_budget)" -ge 500 ]; }
poll_until 5 _over_budget || bad "node2 refused $(port2 | jq .mac_queries_over_budget) queries over budget, expected >= 500"
q1=$(stats2 | jq .mac_queries_tx)

pin0=$(stats2 | jq .packet_ins) met0=$(port2 | jq .packet_ins_metered)
c0=$(cpu_ms "$sw2pid") t0=$(date +%s%N)
log "macs: 12000 broadcasts from random source MACs, about 4000/s"
inject macs 12000
_over_limit() { [ "$(port2 | jq .macs_over_limit)" -ge 1 ]; }
poll_until 5 _over_limit || bad "node2 refused no MAC over node1's port limit"
_quiet() {          # packet-ins stopped growing: the blast is over
  local a b; a=$(stats2 | jq .packet_ins); sleep 0.3; b=$(stats2 | jq .packet_ins); [ "$a" = "$b" ]
}
wait_until 10 "node2's packet-ins to settle" _quiet
c1=$(cpu_ms "$sw2pid") t1=$(date +%s%N)
pin1=$(stats2 | jq .packet_ins) met1=$(port2 | jq .packet_ins_metered)
behind1=$(ctl 2 fdb --json | jq --arg p "$id1" '[.entries[] | select(.peer == $p)] | length')

wait "$ping_pid" || true
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$EVT_TMP/ping.log")
recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$EVT_TMP/ping.log")

log "figures on node2's port from node1: $(port2 | jq -c '{packet_ins_metered, mac_queries_over_budget, macs_held, macs_over_limit, flood_bad_root}')"
log "node2 stats: $(stats2 | jq -c '{packet_ins, packet_ins_metered, macs_held, macs_over_limit, flood_bad_root, flood_refused, mac_queries_tx, mac_queries_over_budget}')"
log "queries node2 flooded for 1000 unknown MACs: $((q1 - q0))"
log "MAC blast: $((pin1 - pin0)) packet-ins arrived, $((met1 - met0)) of them metered," \
    "evio-switchctl CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }') ms in" \
    "$(( (t1 - t0) / 1000000 )) ms; node2 holds $behind1 MACs behind node1"
log "ping node1 -> node2: $recv of $sent received"
ctl 2 ports | sed 's/^/#   /'

[ "$(node_helper_pid 2 "$(node_dir 2)" evio-switchctl)" = "$sw2pid" ] \
  || bad "node2's evio-switchctl restarted during the attack"
[ -n "$sent" ] && [ "$recv" -ge $((sent - 3)) ] \
  || bad "node2's traffic was pulled away: $recv of $sent pings received"
_vmac_local >/dev/null || bad "node2 lost $vmac to node1"
[ $((q1 - q0)) -le 40 ] || bad "node2 flooded $((q1 - q0)) queries for node1's frames (budget 20 + 10/s)"
port2 | jq -e '.packet_ins_metered >= 1' >/dev/null || bad "no packet-in metered on node1's port"
[ "$behind1" -le 1024 ] || bad "node2 holds $behind1 MACs behind node1 (limit 1024)"
ctl 2 ports | grep -q "refused:.*macs_held=" || bad "evioctl ports shows no held MAC on node1's port"
[ ${#FAILS[@]} = 0 ] || fail "${#FAILS[@]} check(s) failed: $(printf '%s; ' "${FAILS[@]}")"
echo "l2_hijack: ok"
