#!/bin/bash
# A TURN server that stops giving allocations after it was found working
# (here: its password changed, as when credentials are rotated) costs its
# relay candidates, not the link.
#
#   node1 -- nat1 (home) --+
#                          br0 "pub" -- srv: prosody, coturn
#   node2 -- nat2 (home) --+
#
# node1 starts while coturn takes test:testpw (its probe says ok). coturn is
# then restarted with another password, and node2 starts: node1's ICE agent
# for the link still gets the TURN server, its allocation is refused, and
# libnice, which takes the server-reflexive candidate from that allocation,
# gives it host candidates only. Checks: the refused allocation makes
# evio-tincan probe the server again at once, its status then shows the
# error, and the link comes up direct (srflx) on a later attempt instead of
# after the next scheduled probe (10 min).
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

net_up 2 home home
srv=$(net_srv_ip)
prosody_ca "$EVT_TMP/ca" || fail "prosody_ca failed"
prosody_start srv "$EVT_TMP/prosody" "$srv" "$EVT_TMP/ca" || fail "prosody_start failed"
for i in 1 2; do prosody_user srv "$EVT_TMP/prosody" "node$i" "pw$i"; done
NODE_CA_FILE=$EVT_TMP/ca/ca.crt
coturn_start srv "$EVT_TMP/coturn" "$srv"

for i in 1 2; do node_config "$i" "$(node_dir "$i")"; done
node_start 1 "$(node_dir 1)"
_turn_is() {
  [ "$(node_status 1 "$(node_dir 1)" | jq -r '.servers[] | select(.kind == "turn") | .state')" = "$1" ]
}
wait_until 20 "node1's TURN server probed ok" _turn_is ok

log "coturn restarted with another password"
coturn_stop
COTURN_PASSWORD=rotated coturn_start srv "$EVT_TMP/coturn2" "$srv"

t0=$(date +%s%N)
node_start 2 "$(node_dir 2)"
node_wait_link 1 "$(node_dir 1)" connected 40
node_wait_link 2 "$(node_dir 2)" connected 40
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
s1=$(node_status 1 "$(node_dir 1)")
log "linked after $ms ms: node1 $(jq -c '.overlays[0].links[0] | {local_type, remote_type}' <<<"$s1");" \
    "its TURN server: $(jq -c '.servers[] | select(.kind == "turn") | {state, error}' <<<"$s1")"
node_assert_direct 1 "$(node_dir 1)"
node_assert_direct 2 "$(node_dir 2)"
[ "$(jq -r '.servers[] | select(.kind == "turn") | .state' <<<"$s1")" = error ] \
  || fail "node1's status does not show its TURN server failing"
grep -q "an allocation failed; probing it again" "$(node_dir 1)/evio.log" \
  || fail "node1 did not probe its TURN server again after the allocation failed"
ns node1 ping -c 2 -i 0.2 -W 2 10.250.0.2 >/dev/null || fail "no ping over the link"
echo "turn_changed: ok"
