#!/bin/bash
# A link that had to start through TURN moves to a direct pair once the
# direct path opens, without going down.
#
#   node1 10.99.1.10 -- nat1 (home) --+   nat1 first drops everything to and
#                                     br0 "pub" -- srv: prosody + coturn
#   node2 10.99.2.10 -- nat2 (home) --+   from nat2's address (10.99.100.2)
#
# Checks: the link comes up relayed; after the block is lifted, both ends
# report a pair without "relay" within 15 s, the link stays connected all
# along (same link, up_s growing), pair_changes counts the move, and pings
# pass before and after.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init
command -v nft >/dev/null || fail "needs nft"

net_up 2 home home
node_servers 2
for i in 1 2; do node_config "$i" "$(node_dir "$i")"; done

log "nat1 drops all traffic with nat2 (only the TURN server is reachable)"
ns nat1 nft -f - <<NFT || fail "cannot add the block"
table ip block {
  chain forward { type filter hook forward priority -10; ip daddr $(net_nat_wan_ip 2) drop; ip saddr $(net_nat_wan_ip 2) drop; }
}
NFT
for i in 1 2; do node_start "$i" "$(node_dir "$i")"; done
node_wait_link 1 "$(node_dir 1)" connected 60
node_wait_link 2 "$(node_dir 2)" connected 60
node_wait_ping 1 10.250.0.2 20

pair() { node_link "$1" "$(node_dir "$1")" | jq -r '"\(.local_type)/\(.remote_type)"'; }
p1=$(pair 1) p2=$(pair 2)
log "blocked: node1 $p1, node2 $p2"
[[ $p1 == *relay* && $p2 == *relay* ]] || fail "expected a relayed pair while blocked, got node1 $p1, node2 $p2"
link1=$(node_link 1 "$(node_dir 1)" link_id)

# held a while, so that every direct check has failed for good and only a
# later check can find the path (libnice retransmits a check for ~8 s)
wait_until 30 "node1's link to be up 12 s" \
  bash -c "[ \"\$($EVT_BUILD/evioctl --socket $(node_sock 1 "$(node_dir 1)") --json status | jq '.overlays[0].links[0].up_s')\" -ge 12 ]"

log "lifting the block"
ns nat1 nft delete table ip block
t0=$(date +%s%N)
_direct() { local a b; a=$(pair 1) b=$(pair 2); [[ $a != *relay* && $b != *relay* ]]; }
wait_until 15 "both ends on a direct pair (node1 $(pair 1), node2 $(pair 2))" _direct
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
l=$(node_link 1 "$(node_dir 1)")
log "direct after $ms ms: node1 $(pair 1), node2 $(pair 2); $(jq -c '{state, up_s, pair_since_s, pair_changes, path}' <<<"$l")"
[ "$(jq -r .link_id <<<"$l")" = "$link1" ] || fail "the link was replaced, not moved"
[ "$(jq -r .state <<<"$l")" = connected ] || fail "the link is $(jq -r .state <<<"$l")"
[ "$(jq -r .up_s <<<"$l")" -ge 12 ] || fail "the link went down meanwhile (up_s $(jq -r .up_s <<<"$l"))"
[ "$(jq -r .pair_changes <<<"$l")" -ge 1 ] || fail "pair_changes did not count the move"
ns node1 ping -c 3 -i 0.2 -W 2 10.250.0.2 >/dev/null || fail "no ping over the direct pair"
echo "relay_to_direct: ok"
