#!/bin/bash
# Eight nodes, each behind its own NAT, with prosody and coturn on the
# emulated internet and a private OVS per node, form the Symphony overlay the
# engine plans: checked through every node's control socket (tests/lib/topo.sh
# says exactly what "converged" means: true successors, k = floor(log2 7) = 2
# long-distance edges, every planned edge connected at both ends, no stray
# edge). Then two nodes crash: the ring closes around them. They come back:
# they are taken in again.
#
# Prints "converged N ms after the last start" (the nodes start one after
# another, each once its control socket answers), and the per-node topology.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/topo.sh"
evt_init

N=8
all=$(seq 1 $N)
nodes_up $N
tf=$NODES_T0
t0=$(date +%s%N)
topo_wait 120 $all
t1=$(date +%s%N)
log "converged $(( (t1 - t0) / 1000000 )) ms after the last start ($(( (t1 - tf) / 1000000 )) ms after the first)"
j=$(topo_collect $all)
topo_summary "$j" | sed 's/^/    /'
# home-router NATs: every link punches through, none through TURN
for i in $all; do node_assert_direct "$i" "$(node_dir "$i")"; done

# the check is not vacuous: a node that lost an edge it plans is reported
[ "$(jq '[.[].planned | length] | add' <<<"$j")" -ge $((N * 3)) ] \
  || fail "fewer planned edges than the ring and chords need: $j"
broken=$(jq '.[0].edges[0].state = "connecting"' <<<"$j")
[ -n "$(topo_problems "$broken")" ] || fail "topo_problems missed an edge that is not connected"

# every node reaches its direct neighbours over the overlay
for i in $all; do
  for peer in $(jq -r --arg me "$(jq -r ".[$((i - 1))].node_id" <<<"$j")" \
                  '.[] | select(.node_id == $me) | .planned[] | .peer' <<<"$j"); do
    k=$(jq -r --arg p "$peer" 'map(.node_id) | index($p) + 1' <<<"$j")
    node_wait_ping "$i" "10.250.0.$k" 15
  done
done
log "every node pings the peers it planned edges to"

log "crash nodes 3 and 6"
node_kill 3 "$(node_dir 3)"
node_kill 6 "$(node_dir 6)"
t0=$(date +%s%N)
live="1 2 4 5 7 8"
topo_wait 120 $live
log "ring closed $(( ($(date +%s%N) - t0) / 1000000 )) ms after the crash"
topo_summary "$(topo_collect $live)" | sed 's/^/    /'

log "nodes 3 and 6 start again"
node_start 3 "$(node_dir 3)"
node_start 6 "$(node_dir 6)"
t0=$(date +%s%N)
topo_wait 120 $all
log "taken back $(( ($(date +%s%N) - t0) / 1000000 )) ms after the restart"
topo_summary "$(topo_collect $all)" | sed 's/^/    /'
echo "topology_8: ok"
