#!/bin/bash
# Fresh keys over time (issue 16, item 7): a link re-handshakes (a new DTLS
# handshake, new ECDHE, the pinned certificate checked again) every
# link.rekey_after_s seconds while frames stream both ways, and loses none.
#
#   ns a                                          ns b
#   evio-tincan (rekey_after_s 5)                 evio-tincan (rekey_after_s 5)
#   ta1 <============ link l1, evio-rec/2 ========> tb1
#   va 10.77.0.1/24 ------------ veth ----------- vb 10.77.0.2/24
#   framecheck seq a -> b and b -> a at once, round after round
#
# Checks: both sides agree on evio-rec/2; while sequence-checked streams
# run both ways (every length 60..1424, up to 32 frames in flight each,
# some 50k frames/s) the link re-handshakes at least 3 times, each side
# counts the same rehandshakes and no failure; every frame arrives intact,
# in order and once, none lost (framecheck's lost 0), and nothing fails to
# authenticate or arrives for unknown keys.
set -u
source "$(dirname "$0")/../lib/common.sh"
evt_init

FC=$EVT_BUILD/tools/framecheck
for x in "$EVT_BUILD/evio-tincan" "$EVT_BUILD/evioctl" "$FC"; do
  [ -x "$x" ] || fail "no $x (make all units)"
done
command -v jq >/dev/null || fail "jq is not installed"

MTU=1410
MAXF=$((MTU + 14))
REKEY_S=5
WANT=3
source "$EVT_TOP/tests/lib/tincan.sh"
TINCAN_LOG_LEVEL=${TINCAN_LOG_LEVEL:-info}

ns_add a b
A=${EVT_PREFIX}a B=${EVT_PREFIX}b
ip -n "$A" link add va type veth peer name vb netns "$B" || fail "cannot create the veth pair"
ns a ip addr add 10.77.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.77.0.2/24 dev vb && ns b ip link set vb up

log "starting evio-tincan in a and b, re-handshakes every $REKEY_S s, link l1"
TINCAN_EXTRA="\"link\": {\"rekey_after_s\": $REKEY_S}"
tincan_start a
tincan_start b
tincan_pair l1 ta1 tb1 $MTU
[ "$(field a l1 records)" = evio-rec/2 ] && [ "$(field b l1 records)" = evio-rec/2 ] \
  || fail "l1 does not use evio-rec/2: a $(field a l1 records), b $(field b l1 records)"
[ "$(ctr a l1 rehandshakes)" = 0 ] || fail "a re-handshook already: $(ctr a l1 rehandshakes)"

# stream TX RX OUT: framecheck seq rounds, 200 at a time (~5 s), until
# l1 re-handshook WANT times on both sides (at most 60 s); every run's JSON
# line appended to OUT; fails on any loss
stream() {
  local tx=$1 rx=$2 out=$3 end=$(( $(date +%s) + 60 )) r
  while :; do
    r=$("$FC" seq --tx "$tx" --rx "$rx" --min 60 --max "$MAXF" --rounds 200) \
      || { echo "framecheck: $r" >>"$out"; return 1; }
    echo "$r" >>"$out"
    [ "$(jq .lost <<<"$r")" = 0 ] || return 1
    [ "$(ctr a l1 rehandshakes)" -ge $WANT ] && [ "$(ctr b l1 rehandshakes)" -ge $WANT ] && return 0
    [ "$(date +%s)" -lt "$end" ] || return 1
  done
}

log "streams a -> b and b -> a until l1 re-handshook $WANT times"
T0=$(date +%s%N)
stream "$A:ta1" "$B:tb1" "$EVT_TMP/ab.json" & P1=$!
stream "$B:tb1" "$A:ta1" "$EVT_TMP/ba.json" & P2=$!
track $P1 $P2
wait $P1; R1=$?
wait $P2; R2=$?
secs=$(( ($(date +%s%N) - T0) / 1000000 ))
for d in ab ba; do
  jq -s -r --arg d "$d" '"\($d): \(map(.sent) | add) frames sent, \(map(.received) | add) received, lost \(map(.lost) | add), late \(map(.late) | add), corrupt \(map(.corrupt) | add), reordered \(map(.reordered) | add), duplicate \(map(.duplicate) | add) in \(length) runs"' \
    "$EVT_TMP/$d.json" 2>/dev/null | while read -r l; do log "$l"; done
done
log "in $secs ms: a rehandshakes $(ctr a l1 rehandshakes) (failures $(ctr a l1 rehandshake_failures)), b rehandshakes $(ctr b l1 rehandshakes) (failures $(ctr b l1 rehandshake_failures))"
log "a: tx_frames $(ctr a l1 tx_frames) rx_frames $(ctr a l1 rx_frames) drop_decrypt $(ctr a l1 drop_decrypt) drop_epoch $(ctr a l1 drop_epoch) drop_replay $(ctr a l1 drop_replay)"
log "b: tx_frames $(ctr b l1 tx_frames) rx_frames $(ctr b l1 rx_frames) drop_decrypt $(ctr b l1 drop_decrypt) drop_epoch $(ctr b l1 drop_epoch) drop_replay $(ctr b l1 drop_replay)"
[ $R1 = 0 ] || fail "a -> b: $(tail -n 1 "$EVT_TMP/ab.json")"
[ $R2 = 0 ] || fail "b -> a: $(tail -n 1 "$EVT_TMP/ba.json")"
for n in a b; do
  [ "$(ctr $n l1 rehandshakes)" -ge $WANT ] || fail "$n re-handshook $(ctr $n l1 rehandshakes) times"
  [ "$(ctr $n l1 rehandshake_failures)" = 0 ] || fail "$n: $(ctr $n l1 rehandshake_failures) re-handshakes failed"
  [ "$(ctr $n l1 drop_decrypt)" = 0 ] || fail "$n dropped $(ctr $n l1 drop_decrypt) records that did not authenticate"
done
link_up l1
echo "PASS: tincan_rekey"
