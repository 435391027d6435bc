#!/bin/bash
# A one-sided ICE failure must not become a signalling storm (issue 17).
#
#   node1 [evbr0 10.250.0.1] 10.99.1.10 -- nat1 (home) --+
#                                                        br0 "pub" -- srv 10.99.100.10
#   node2 [evbr0 10.250.0.2] 10.99.2.10 -- nat2 (home) --+   prosody (capture: TCP to 5222)
#                                                            + coturn
#
# The two nodes link up first (which tells their ids). Then F, the node with
# the higher id, is restarted with every UDP packet in its namespace dropped
# by nftables on its way out and in (XMPP is TCP and passes): its ICE has only
# its host candidate, every check fails at once (EPERM), and its link fails
# after a few seconds, while the other end O, whose lower id makes it the
# initiator of the edge, is still checking its own candidates (up to 30 s).
# (A wrong TURN password on one side set this off before.) Today the failing
# end re-requests, O answers "collision", the failing end goes back to idle
# without backoff and asks again: ~1000 messages a second each way at worst.
#
# Checks, over BLOCK_S (default 30) seconds of the block: each node sends
# fewer than 5 signalling messages a second on average, counted by the agent
# (status .xmpp.counters.sent) and by the server side (TCP segments with
# payload from each node's NAT to prosody's 5222); then the block is lifted
# and the link comes up within 150 s at both ends, and carries a ping.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

BLOCK_S=${ICE_ONE_SIDED_BLOCK_S:-30}
RATE_MAX=5

nodes_up 2
D1=$(node_dir 1) D2=$(node_dir 2)
node_wait_link 1 "$D1" connected 60
node_wait_link 2 "$D2" connected 60
ID1=$(node_status 1 "$D1" | jq -r .node_id)
ID2=$(node_status 2 "$D2" | jq -r .node_id)
if [[ $ID1 > $ID2 ]]; then F=1 O=2; else F=2 O=1; fi
DF=$(node_dir $F) DO=$(node_dir $O)
log "linked; ids node1 ${ID1:0:12}, node2 ${ID2:0:12}: F (blocked, higher id) = node$F, O = node$O"

block() {
  ns "node$F" nft -f - <<'NFT' || fail "cannot install the block in node$F"
table inet evt_block {
  chain out { type filter hook output priority filter; policy accept; oifname != "lo" meta l4proto udp drop; }
  chain in { type filter hook input priority filter; policy accept; iifname != "lo" meta l4proto udp drop; }
}
NFT
}
unblock() { ns "node$F" nft delete table inet evt_block; }

log "node$F restarted with all its UDP dropped"
node_stop "$F" "$DF"
block
# the server's view: TCP segments with payload from each site to 5222
net_capture_start srv wan "$EVT_TMP/xmpp.pcap"
CAP=$NET_CAPTURE_PID
node_start "$F" "$DF"
node_wait_xmpp "$F" "$DF" connected 20

sent() { node_status "$1" "$(node_dir "$1")" | jq '.xmpp.counters.sent'; }
# from the moment F is back in the room and O has seen it
_o_sees_f() {
  node_status "$O" "$DO" | jq -e --arg f "$(node_status "$F" "$DF" | jq -r .node_id)" \
    '.overlays[0].peers[] | select(.node_id == $f and .state == "present")' >/dev/null
}
wait_until 20 "node$O to see node$F back" _o_sees_f
t0=$(date +%s.%N)
declare -A S0 PREV MAXS
for i in 1 2; do S0[$i]=$(sent "$i"); PREV[$i]=${S0[$i]}; MAXS[$i]=0; done
end=$(( $(date +%s) + BLOCK_S ))
states=
while [ "$(date +%s)" -lt "$end" ]; do
  next_second     # the period of the per-second counts
  for i in 1 2; do
    s=$(sent "$i")
    d=$(( s - PREV[$i] )); PREV[$i]=$s
    [ "$d" -gt "${MAXS[$i]}" ] && MAXS[$i]=$d
  done
  states+="$(node_link "$O" "$DO" state 2>/dev/null || echo none)/$(node_link "$F" "$DF" state 2>/dev/null || echo none) "
done
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
declare -A RATE
for i in 1 2; do
  n=$(( PREV[$i] - S0[$i] ))
  RATE[$i]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
  log "node$i: sent $n signalling messages in $secs s (${RATE[$i]}/s, worst second ${MAXS[$i]})"
done
log "edge states O/F each second: $states"
net_capture_stop "$CAP"
for i in 1 2; do
  wan=$(net_nat_wan_ip "$i")
  segs=$(tcpdump -n -r "$EVT_TMP/xmpp.pcap" \
    "src host $wan and tcp dst port 5222 and (((ip[2:2] - ((ip[0] & 0xf) << 2)) - ((tcp[12] & 0xf0) >> 2)) != 0)" \
    2>/dev/null | wc -l)
  SEGS[$i]=$segs
  log "server side: $segs TCP segments with payload from node$i's NAT ($wan) to 5222 while capturing"
done

bad=
for i in 1 2; do
  awk -v r="${RATE[$i]}" -v m="$RATE_MAX" 'BEGIN { exit !(r < m) }' \
    || bad+="node$i sent ${RATE[$i]} messages/s (limit $RATE_MAX); "
done
# the capture ran from before F's start to the end of the window: allow the
# start's own messages (presence, join, first negotiation) on top
cap_s=$(awk -v s="$secs" 'BEGIN { printf "%d", s + 10 }')
for i in 1 2; do
  [ "${SEGS[$i]}" -lt $(( RATE_MAX * cap_s )) ] \
    || bad+="server saw ${SEGS[$i]} segments from node$i in ~${cap_s} s; "
done

log "lifting the block: the link must come up"
unblock
t2=$(date +%s%N)
# an attempt started under the block may run to its 30 s connect timeout,
# and the backoff then waits up to 60 s (BACKOFF_MAX_MS): 150 s covers both
if ! ( wait_until 150 "node$O's link connected" _node_link_is "$O" "$DO" connected \
       && wait_until 30 "node$F's link connected" _node_link_is "$F" "$DF" connected ); then
  bad+="the link did not come up within 150 s of the block lifting; "
else
  log "link up $(( ($(date +%s%N) - t2) / 1000000 )) ms after the block lifted:" \
      "$(node_link "$O" "$DO" | jq -c '{state, local_type, remote_type}')"
  node_wait_ping 1 10.250.0.2 15
fi
[ -z "$bad" ] || fail "$bad"
echo "ice_one_sided: ok"
