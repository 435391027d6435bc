#!/bin/bash
# evio-switchctl at work on a multi-hop overlay: what it shows, shortcuts
# for heavy flows, and a restart that traffic does not notice. Six NATed
# nodes form a bare ring (one successor each, no long-distance edges), so
# node1 and the node opposite it are 3 overlay hops apart.
#
# Checks:
#  - evioctl fdb / flows / ports on node1 show the far node's MAC behind the
#    far node, the unicast flows to it (ovs-ofctl syntax) and the ports with
#    the node behind each;
#  - a heavy flow from node1 to the far node (threshold lowered to 300
#    kbit/s) gets an on-demand edge, node1's flow to the far MAC then
#    outputs on that link's port and its counters grow there, and the edge
#    is released once the traffic stops (idle time lowered to 8 s);
#  - killing evio-switchctl on node1 and on a node in the middle of the path
#    (the agent restarts it) during a 100/s ping loses at most 1 s of it,
#    and the restarted switches rebuild their MAC tables from the flows they
#    find.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/topo.sh"
evt_init

N=6
all=$(seq 1 $N)
nodes_up $N successors=1 long=0 shortcut_kbps=300 shortcut_idle=8
TOPO_K=0 topo_wait 120 $all
j=$(topo_collect $all)
topo_summary "$j" | sed 's/^/    /'

sw_sock() { echo "$(node_dir "$1")/run/switchctl.sock"; }
ctl1() { "$EVT_BUILD/evioctl" --run-dir "$(node_dir 1)/run" "$@"; }

# the node opposite node1 on the ring, and the one after node1 on a path to it
topo_geometry "$j"
far=$(topo_ring_at 1 3) mid=$(topo_ring_at 1 1)
far_id=${TOPO_ID[$far]} ip_far=10.250.0.$far
log "node1 -> node$far is 3 hops (via node$mid)"

# both ways, so each end floods an ARP request and every switch learns
# each MAC behind its own node
node_wait_ping 1 "$ip_far" 20
node_wait_ping "$far" 10.250.0.1 20
mac_far=$(ns "node$far" cat /sys/class/net/evbr0/address)

# ---- inspection ----------------------------------------------------------
# (a MAC first seen in unicast frames is put behind the neighbour they came
# from until its node's announcement arrives, within seconds of the last
# link change)
_fdb_far() { ctl1 fdb | grep -Eq "^lab +$mac_far +[^ ]+ +$far_id "; }
wait_until 15 "evioctl fdb to show $mac_far behind node$far ($far_id)" _fdb_far
ctl1 fdb | sed 's/^/    /'
_flow_to_far() { ctl1 flows | tee /dev/stderr | grep -q "dl_dst=$mac_far actions=output:"; }
wait_until 10 "evioctl flows to list a flow to $mac_far" _flow_to_far
ports=$(ctl1 ports)
echo "$ports" | sed 's/^/    /'
[ "$(grep -Ec '^  [^ ]+ +[0-9]+  [0-9a-f]{32} ' <<<"$ports")" = 2 ] \
  || fail "evioctl ports: expected node1's two links, each with the node behind it"
grep -q "${TOPO_ID[$mid]}" <<<"$ports" || fail "evioctl ports: node$mid not behind any port"
ctl1 fdb --json | jq -e '.entries | length > 0' >/dev/null || fail "evioctl fdb --json: no entries"

# ---- shortcut ------------------------------------------------------------
# the edge node1 has to the far node, if any: "on_demand STATE" when either
# end wants it on demand (both ends see the heavy flow; either may ask
# first), else "TYPE STATE"
edge_far() {
  ctl1 topology --json | jq -r --arg p "$far_id" '.overlays[0].edges[] | select(.peer == $p)
    | "\(if .type == "on_demand" or .remote_type == "on_demand" then "on_demand" else .type end) \(.state)"'
}
[ -z "$(edge_far)" ] || fail "node1 has an edge to node$far before any traffic: $(edge_far)"
# about 5 Mbit/s each way for at most 60 s (stopped below)
bg node1 "$EVT_TMP/heavy.log" ping -q -i 0.002 -s 1200 -w 60 "$ip_far" >/dev/null
heavy=${EVT_PIDS[-1]}
t0=$(date +%s%N)
_shortcut_up() {
  [ "$(edge_far)" = "on_demand connected" ] && return 0
  echo "edge: $(edge_far)"; ctl1 flows; ctl1 ports | grep stats; return 1
}
wait_until 30 "an on-demand edge from node1 to node$far" _shortcut_up
log "shortcut: on-demand edge connected $(( ($(date +%s%N) - t0) / 1000000 )) ms after the heavy flow began"

# node1's flow from its own port to the far MAC now outputs on the new link
port_far=$(evctl "$(sw_sock 1)" --json bridge/status \
           | jq -r --arg p "$far_id" '.bridges[0].ports[] | select(.peer == $p) | .port')
ofport_far=$(evctl "$(sw_sock 1)" --json bridge/status \
             | jq -r --arg p "$far_id" '.bridges[0].ports[] | select(.peer == $p) | .ofport')
[ -n "$port_far" ] || fail "no port on node1's bridge leads to node$far"
_flow_on_link() {
  evctl "$(sw_sock 1)" --json flows/show | jq -e --arg m "$mac_far" --arg p "$port_far" \
    '[.bridges[0].flows[] | select(.dl_dst == $m and .in_port == "evbr0" and .out_port == $p
                                    and .packets > 0)] | length == 1'
}
wait_until 15 "node1's flow to $mac_far to carry packets on $port_far" _flow_on_link
evctl "$(sw_sock 1)" flows/show >/dev/null
ctl1 flows | grep "dl_dst=$mac_far" | sed 's/^/    /'
# and the port counters (refreshed by OVS every 5 s) grow on that link
tx_far() { evctl "$(sw_sock 1)" --json bridge/status | jq --arg p "$port_far" '.bridges[0].ports[] | select(.port == $p) | .tx_packets'; }
tx0=$(tx_far)
_tx_grew() { [ "$(tx_far)" -gt $((tx0 + 500)) ]; }
wait_until 15 "port $port_far's tx counter to grow by 500 packets" _tx_grew
log "shortcut: $port_far (ofport $ofport_far) carried $(( $(tx_far) - tx0 )) more packets"
# the middle node no longer carries it: its flows to the far MAC go idle
kill -INT "$heavy" 2>/dev/null || true
wait "$heavy" 2>/dev/null || true
log "heavy flow: $(grep -E 'packets transmitted' "$EVT_TMP/heavy.log")"
t0=$(date +%s%N)
_shortcut_gone() { [ -z "$(edge_far)" ] || [ "$(edge_far | cut -d' ' -f1)" != on_demand ]; }
wait_until 40 "the on-demand edge to node$far to be released after the traffic stopped" _shortcut_gone
log "shortcut: released $(( ($(date +%s%N) - t0) / 1000000 )) ms after the traffic stopped (idle limit 8 s)"
node_wait_ping 1 "$ip_far" 20

# ---- evio-switchctl restart under traffic --------------------------------
bg node1 "$EVT_TMP/restart.log" ping -i 0.01 -c 600 -W 1 "$ip_far" >/dev/null
pinger=${EVT_PIDS[-1]}
_pinging() { grep -c 'bytes from' "$EVT_TMP/restart.log" | awk '{exit !($1 >= 100)}'; }
wait_until 20 "the ping to run" _pinging
old1=$(node_helper_pid 1 "$(node_dir 1)" evio-switchctl)
oldm=$(node_helper_pid "$mid" "$(node_dir "$mid")" evio-switchctl)
kill -9 "$old1" "$oldm"
log "killed evio-switchctl on node1 (pid $old1) and node$mid (pid $oldm)"
_restarted() {
  local i=$1 old=$2 pid
  pid=$(node_helper_pid "$i" "$(node_dir "$i")" evio-switchctl) || return 1
  [ "$pid" != "$old" ] && [ "$pid" -gt 0 ] \
    && evctl "$(sw_sock "$i")" --json bridge/status | jq -e '.bridges[0].openflow == "connected"' >/dev/null
}
wait_until 20 "node1's evio-switchctl to be back" _restarted 1 "$old1"
wait_until 20 "node$mid's evio-switchctl to be back" _restarted "$mid" "$oldm"
wait "$pinger" || true
summary=$(grep 'packets transmitted' "$EVT_TMP/restart.log")
log "ping across the restart: $summary"
sent=$(sed -E 's/^([0-9]+) packets transmitted.*/\1/' <<<"$summary")
got=$(sed -E 's/.* ([0-9]+) received.*/\1/' <<<"$summary")
[ "$sent" = 600 ] || fail "ping sent $sent of 600"
[ $((sent - got)) -le 100 ] || fail "$((sent - got)) of 600 pings lost across the restart (more than 1 s at 100/s)"
for i in 1 "$mid"; do
  st=$(evctl "$(sw_sock "$i")" --json bridge/status)
  r=$(jq '.bridges[0].stats.macs_restored' <<<"$st")
  log "node$i: restarted evio-switchctl restored $r MACs from the flows it found"
  [ "$r" -ge 1 ] || fail "node$i's evio-switchctl restored no MACs after its restart"
done
echo "switchctl_ops_6: ok"
