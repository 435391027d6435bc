#!/bin/bash
# Addresses that assign themselves (issue 14): "ip": "auto" with a pool.
# Two nodes behind home-router NATs are forced to the same first candidate
# (EVIO_TEST_ACD_FIRST, a knob for tests) and started together. Each probes
# (RFC 5227) once its first link is up, so the probes reach the other:
# probing the same address at once, both move on to candidates derived
# from their node IDs (or the first to claim it answers the other's probe).
# Checks: both end with different addresses of the pool on their bridges,
# both ready, ping each other both ways; the claimed address is kept in the
# state directory and a restarted node (the knob gone) gets it back after
# probing; a third node forced onto an address in use takes another while
# the others keep theirs, and everyone reaches everyone.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

FIRST=10.10.77.77
POOL=10.10.0.0/16

net_up 3
node_servers 3
for i in 1 2 3; do
  d=$(node_dir "$i")
  node_config "$i" "$d"
  jq --arg pool "$POOL" '.overlays.lab.bridge |= (.ip = "auto" | .pool = $pool)' \
    "$d/config.json" >"$d/config.tmp" && mv "$d/config.tmp" "$d/config.json"
done

# bridge_ip I: node I's bridge address (a.b.c.d), or nothing
bridge_ip() {
  ip -n "${EVT_PREFIX}node$1" -4 -o addr show dev evbr0 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}
ready() { node_status "$1" "$(node_dir "$1")" | jq -e .ready >/dev/null; }
distinct() {
  local a b
  a=$(bridge_ip 1) b=$(bridge_ip 2)
  echo "node1: ${a:-none}, node2: ${b:-none}"
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
}
in_pool() { [[ $1 == 10.10.* ]] && [ "$1" != 10.10.0.0 ] && [ "$1" != 10.10.255.255 ]; }

log "node1 and node2 forced to $FIRST, started together"
t0=$(date +%s%N)
export EVIO_TEST_ACD_FIRST=$FIRST
node_start 1 "$(node_dir 1)"
node_start 2 "$(node_dir 2)"
unset EVIO_TEST_ACD_FIRST
node_wait_link 1 "$(node_dir 1)" connected 60
link_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait_until 60 "node1 and node2 on different addresses" distinct
distinct_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait_until 30 "node1 ready" ready 1
wait_until 30 "node2 ready" ready 2
ip1=$(bridge_ip 1) ip2=$(bridge_ip 2)
in_pool "$ip1" && in_pool "$ip2" || fail "addresses outside $POOL: $ip1 $ip2"
# each probes once linked: both probing FIRST at once both move (RFC 5227
# 2.1.1), or one claims it first and the other's probe is answered
moved=$(grep -l "conflict on $FIRST" "$(node_dir 1)/evio.log" "$(node_dir 2)/evio.log" | wc -l)
[ "$moved" -ge 1 ] || fail "no node logged a conflict on $FIRST"
log "link after $link_ms ms; distinct addresses after $distinct_ms ms: node1 $ip1, node2 $ip2;" \
    "$moved node(s) moved off $FIRST"
grep -h " acd" "$(node_dir 1)/evio.log" "$(node_dir 2)/evio.log" | sed 's/^/  /' | head -20
node_wait_ping 1 "$ip2" 15
ns node2 ping -c 3 -i 0.2 -W 2 "$ip1" >/dev/null || fail "node2 cannot ping $ip1"
ns node1 ping -c 3 -i 0.2 -W 2 "$ip2" >/dev/null || fail "node1 cannot ping $ip2"
log "ping both ways"

log "the address is kept in the state directory across a restart"
mover=2
[ "$(cat "$(node_dir $mover)/state/address.lab")" = "$(bridge_ip $mover)" ] \
  || fail "state/address.lab of node$mover: $(cat "$(node_dir $mover)/state/address.lab" 2>&1)"
before=$(bridge_ip $mover)
node_stop $mover "$(node_dir $mover)"
t0=$(date +%s%N)
node_start $mover "$(node_dir $mover)"
wait_until 60 "node$mover ready again" ready $mover
[ "$(bridge_ip $mover)" = "$before" ] || fail "node$mover came back as $(bridge_ip $mover), was $before"
log "node$mover back on $before, ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after its start"
node_wait_ping 1 "$before" 20

log "a newcomer forced onto an address in use yields while probing"
wait_until 30 "node1 linked" _node_link_is 1 "$(node_dir 1)" connected
EVIO_TEST_ACD_FIRST=$ip1 node_start 3 "$(node_dir 3)"
wait_until 60 "node3 ready" ready 3
ip3=$(bridge_ip 3)
[ "$ip3" != "$ip1" ] && [ "$ip3" != "$ip2" ] || fail "node3 took $ip3, in use"
[ "$(bridge_ip 1)" = "$ip1" ] && [ "$(bridge_ip 2)" = "$ip2" ] \
  || fail "the nodes already there changed address: $(bridge_ip 1) $(bridge_ip 2)"
node_wait_ping 3 "$ip1" 20
node_wait_ping 3 "$ip2" 20
log "node3 on $ip3; node1 and node2 kept theirs; all reachable"
log "ok"
