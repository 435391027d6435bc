#!/bin/bash
# An occupant that takes an absent node's nickname can never link under it
# (issue 16): node IDs are the first half of each node's key fingerprint, so
# requests carrying another key are refused and counted; and the real node,
# refused by the room while its nickname is taken ("conflict"), keeps trying
# and is back and linked within 10 s of the impostor leaving.
#
#   node1 -- nat1 (home) --+
#   node2 -- nat2 (home) --+-- pub -- srv: prosody + coturn
#   node3: hostile_peer  --+   (XMPP account node3, nickname = node2's ID)
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

HP=$EVT_BUILD/tools/hostile_peer
[ -x "$HP" ] || fail "$HP not built (make units)"

net_up 3
node_servers 3
for i in 1 2; do node_config "$i" "$(node_dir "$i")"; done
for i in 1 2; do node_start "$i" "$(node_dir "$i")"; done
D1=$(node_dir 1) D2=$(node_dir 2)
node_wait_link 1 "$D1" connected 60
ID1=$(node_status 1 "$D1" | jq -r .node_id)
ID2=$(node_status 2 "$D2" | jq -r .node_id)
FPR2=$(node_status 2 "$D2" | jq -r .fingerprint)
# the ID is the key's: the first 16 bytes of the fingerprint
[ "$ID2" = "$(tr -d ':' <<<"${FPR2:0:47}" | tr 'A-F' 'a-f')" ] \
  || fail "node2's id $ID2 is not the first half of its key fingerprint $FPR2"
log "node1 $ID1, node2 $ID2 (key $FPR2)"

# node2 goes away; its link at node1 ends
node_stop 2 "$D2"
_gone() { [ "$(node_status 1 "$D1" | jq --arg p "$ID2" '[.overlays[0].links[] | select(.peer == $p and .state == "connected")] | length')" = 0 ]; }
wait_until 40 "node1 to notice node2 gone" _gone

refusals() { node_status 1 "$D1" | jq '.overlays[0].refusals.impostor'; }
created() { node_status 1 "$D1" | jq '.overlays[0].refusals.links_created'; }
IMP0=$(refusals) CREATED0=$(created)

# the impostor: node2's nickname, its own key, for 25 s
srv=$(net_srv_ip)
ns node3 "$HP" --server "$srv" --jid node3@evio.test --password pw3 --ca "$NODE_CA_FILE" \
  --overlay lab --victim "$ID1" --impersonate "$ID2" --hold 25 edge_req_flood 5 5 \
  >"$EVT_TMP/impostor.out" 2>"$EVT_TMP/impostor.err" &
HPID=$!
track "$HPID"
wait_until 20 "the impostor in the room as node2" grep -q "^joined $ID2" "$EVT_TMP/impostor.out"
_refused() { [ "$(refusals)" -gt "$IMP0" ]; }
wait_until 20 "node1 to refuse the impostor's requests" _refused

# the real node2 comes back while its nickname is taken: refused, retrying
node_start 2 "$D2"
_conflict() { node_status 2 "$D2" | jq -e '.xmpp.join_refusals > 0 and (.xmpp.room_error | test("conflict"))' >/dev/null; }
wait_until 20 "node2 to report the conflict" _conflict
log "node2 while squatted: $(node_status 2 "$D2" | jq -c '.xmpp | {room_error, join_refusals, rooms_joined}')"
# no link, not even a TAP, under node2's name while the impostor holds it
[ "$(node_status 1 "$D1" | jq --arg p "$ID2" '[.overlays[0].links[] | select(.peer == $p and (.state == "connected" or .state == "connecting"))] | length')" = 0 ] \
  || fail "node1 links with the impostor: $(node_status 1 "$D1" | jq -c .overlays[0].links)"

wait "$HPID" || fail "hostile_peer failed: $(tail -n 3 "$EVT_TMP/impostor.err")"
log "impostor: $(tail -n 1 "$EVT_TMP/impostor.out")"
T0=$(date +%s%N)
_linked() { [ "$(node_status 1 "$D1" | jq --arg p "$ID2" '[.overlays[0].links[] | select(.peer == $p and .state == "connected")] | length')" = 1 ]; }
wait_until 10 "node2 back in the room and linked with node1 within 10 s of the impostor leaving" _linked
log "node2 linked again $(( ($(date +%s%N) - T0) / 1000000 )) ms after the impostor left"
node_wait_ping 1 10.250.0.2 10
log "node1 refusals: $(node_status 1 "$D1" | jq -c '.overlays[0].refusals | {impostor, links_created}')" \
    "(impostor before: $IMP0, links created before: $CREATED0)"
[ "$(created)" -le $(( CREATED0 + 2 )) ] || fail "node1 created links for the impostor"
log "ok: the impostor was refused, node2 came back under its own key"
