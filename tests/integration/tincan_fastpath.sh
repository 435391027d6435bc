#!/bin/bash
# evio-tincan's frame pump at the Ethernet level, checked with framecheck
# (tests/tools/framecheck.c): every frame length crosses intact and in
# order, idle and under load; oversized frames, replayed, tampered and
# garbage datagrams are dropped and counted without hurting the link.
#
#   ns a                                          ns b
#   evio-tincan  (a/run/tincan.sock)              evio-tincan  (b/run/tincan.sock)
#   ta1 mtu 1410 192.168.78.1 <== link l1 ==>     tb1 mtu 1410 192.168.78.2
#   ta2 mtu 1500              <== link l2 ==>     tb2 mtu 1410
#   va 10.77.0.1/24 ------------ veth ----------- vb 10.77.0.2/24
#   framecheck replay|tamper sniffs and injects on va; nft drops on b (e2)
#
# Checks: a. lengths 60..1424 both ways, 3 rounds, intact, in order, none
# lost; b. the same a -> b while iperf3 loads b -> a (losses allowed, every
# length arrives); c. oversized frames from the TAP and from the peer are
# dropped and counted; d. a replayed record is dropped, the frame arrives
# once; e. a tampered record is dropped (e2: with the original withheld, it
# fails authentication); f. garbage datagrams change nothing. Keys change
# every 256 records throughout, and both sides keep in step.
set -u
source "$(dirname "$0")/../lib/common.sh"
evt_init

FC=$EVT_BUILD/tools/framecheck
for x in "$EVT_BUILD/evio-tincan" "$EVT_BUILD/evioctl" "$FC"; do
  [ -x "$x" ] || fail "no $x (make all units)"
done
for x in jq iperf3 python3; do command -v "$x" >/dev/null || fail "$x is not installed"; done

MTU=1410
MAXF=$((MTU + 14))          # the largest untagged frame the link carries
T0=$(date +%s%N)

source "$EVT_TOP/tests/lib/tincan.sh"
TINCAN_LOG_LEVEL=${TINCAN_LOG_LEVEL:-info}

# ---- helpers ---------------------------------------------------------

# udp_stat NODE NAME: a counter of the Udp: lines in NODE's /proc/net/snmp
udp_stat() {
  ns "$1" awk -v k="$2" '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
                                        else print $col[k] }' /proc/net/snmp
}
# drops: where frames a -> b can be lost (all traffic, not only ours)
drops() {
  printf 'ta1 tx_dropped %s, a drop_tap %s, a UDP SndbufErrors %s, b UDP RcvbufErrors %s, ' \
    "$(ns a ip -j -s link show ta1 | jq '.[0].stats64.tx.dropped')" "$(ctr a l1 drop_tap)" \
    "$(udp_stat a SndbufErrors)" "$(udp_stat b RcvbufErrors)"
  printf 'b drop_decrypt %s, b drop_tap %s, tb1 rx_dropped %s' "$(ctr b l1 drop_decrypt)" \
    "$(ctr b l1 drop_tap)" "$(ns b ip -j -s link show tb1 | jq '.[0].stats64.rx.dropped')"
}

# count_start NODE NS:IF MARKER MS: framecheck count in the background,
# listening once this returns; count_result waits for it and sets COUNT.
count_start() {
  rm -f "$EVT_TMP/count.ready"
  bg "$1" "$EVT_TMP/count.out" "$FC" count --rx "$2" --marker "$3" --ms "$4" \
    --ready "$EVT_TMP/count.ready" >/dev/null
  COUNT_PID=${EVT_PIDS[-1]}
  wait_until 5 "framecheck count listening" test -e "$EVT_TMP/count.ready"
}
count_result() {
  wait "$COUNT_PID" || fail "framecheck count: $(cat "$EVT_TMP/count.out")"
  COUNT=$(tail -n 1 "$EVT_TMP/count.out")
}

# replay_start MODE [OPTION...]: framecheck replay on va for l1's 5-tuple
replay_start() {
  local mode=$1; shift
  rm -f "$EVT_TMP/replay.ready"
  bg a "$EVT_TMP/replay.out" "$FC" replay --ns "$A" --if va --src-port "$PORT_A" \
    --dst-port "$PORT_B" --min-len 900 --mode "$mode" --timeout-ms 10000 \
    --ready "$EVT_TMP/replay.ready" "$@" >/dev/null
  REPLAY_PID=${EVT_PIDS[-1]}
  wait_until 5 "framecheck replay listening" test -e "$EVT_TMP/replay.ready"
}
replay_result() {
  wait "$REPLAY_PID" || fail "framecheck replay: $(cat "$EVT_TMP/replay.out")"
  log "framecheck replay: $(tail -n 1 "$EVT_TMP/replay.out")"
}

# marker_once MARKER: send one 1000-byte frame with MARKER a -> b while
# counting it on tb1 (count_result then tells how often it arrived)
marker_once() {
  count_start b "$B:tb1" "$1" 1500
  "$FC" send --tx "$A:ta1" --len 1000 --marker "$1" >/dev/null || fail "framecheck send"
}

# ---- setup ------------------------------------------------------------

ns_add a b
A=${EVT_PREFIX}a B=${EVT_PREFIX}b
ip -n "$A" link add va type veth peer name vb netns "$B" || fail "cannot create the veth pair"
ns a ip addr add 10.77.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.77.0.2/24 dev vb && ns b ip link set vb up

# every 256 records a new key (rec.h): everything below also crosses
# rekeying, dozens of times idle and hundreds under load
REKEY=256
log "starting evio-tincan in a and b, link l1 (mtu $MTU), new keys every $REKEY records"
TINCAN_EXTRA="\"link\": {\"rekey_records\": $REKEY}"
tincan_start a
tincan_start b
tincan_pair l1 ta1 tb1 $MTU

# ---- a. every length, idle -------------------------------------------

# framecheck's default window (32 frames in flight) stays well below the
# ~90 records that fit in b's UDP receive buffer, so no burst is dropped
log "a. lengths 60..$MAXF, 3 rounds each way, idle link"
seq_check "a -> b idle" "$A:ta1" "$B:tb1" --rounds 3
[ "$(jq .lost <<<"$SEQ")" = 0 ] || fail "a -> b lost frames on an idle link: $SEQ"
seq_check "b -> a idle" "$B:tb1" "$A:ta1" --rounds 3
[ "$(jq .lost <<<"$SEQ")" = 0 ] || fail "b -> a lost frames on an idle link: $SEQ"
link_up l1

# ---- b. every length, under load ---------------------------------------

log "b. the same a -> b (20 rounds, window 64) while iperf3 sends b -> a"
ns a ip addr add 192.168.78.1/24 dev ta1
ns b ip addr add 192.168.78.2/24 dev tb1
load_start b a 192.168.78.1 l1
t=$(date +%s%N) base=$(ctr b l1 tx_bytes) drops0=$(drops)
seq_check "a -> b under load" "$A:ta1" "$B:tb1" --rounds 20 --window 64
mbit=$(( ($(ctr b l1 tx_bytes) - base) * 8000 / ($(date +%s%N) - t) ))
log "meanwhile iperf3 pushed $mbit Mbit/s b -> a through l1"
log "drops before: $drops0"
log "drops after:  $(drops)"
kill_wait "$IPERF_C" "$IPERF_S"
link_up l1

# rekeying: each side moved on as often as its records say, the receiver
# followed every time, and no record arrived for a key already dropped
for d in "a b" "b a"; do
  set -- $d
  sent=$(ctr "$1" l1 fast_tx_datagrams)
  rk=$(ctr "$1" l1 rekeys_tx)
  [ "$rk" -ge $(( sent / REKEY - 1 )) ] && [ "$rk" -gt 2 ] \
    || fail "$1 sent $sent records in $rk rekeys (every $REKEY expected)"
  [ "$(ctr "$2" l1 rx_epoch)" = "$(ctr "$1" l1 tx_epoch)" ] \
    || fail "$2 receives in epoch $(ctr "$2" l1 rx_epoch), $1 sends in $(ctr "$1" l1 tx_epoch)"
  [ "$(ctr "$2" l1 drop_epoch)" = 0 ] || fail "$2 dropped $(ctr "$2" l1 drop_epoch) records of unknown epochs"
  log "$1 -> $2: $sent records in $((rk + 1)) epochs; $2 followed ($(ctr "$2" l1 rekeys_rx) rekeys)"
done

# ---- c. oversized frames -------------------------------------------------

log "c. oversized frames from ta1 (mtu raised to 1500) are dropped on a"
base=$(ctr a l1 drop_oversize)
ns a ip link set ta1 mtu 1500
count_start b "$B:tb1" 0xc1 1500
"$FC" send --tx "$A:ta1" --len $((MAXF + 1)) --count 3 --marker 0xc1 >/dev/null || fail "send $((MAXF + 1))"
"$FC" send --tx "$A:ta1" --len 1514 --count 2 --marker 0xc1 >/dev/null || fail "send 1514"
wait_until 5 "a's drop_oversize +5" ctr_ge a l1 drop_oversize $((base + 5))
count_result
[ "$COUNT" = 0 ] || fail "$COUNT oversized frames arrived on tb1"
[ "$(ctr a l1 drop_oversize)" = $((base + 5)) ] \
  || fail "a's drop_oversize grew by $(( $(ctr a l1 drop_oversize) - base )), 5 were sent"
ns a ip link set ta1 mtu $MTU
link_up l1

log "c. a frame larger than the receiver's MTU: l2 is 1500 on a, $MTU on b"
tincan_create_pair l2 ta2 tb2 "$(tincan_fp b)" "$(tincan_fp a)" 1500 a b $MTU
wait_until 20 "l2 up on a" is_state a l2 up
wait_until 20 "l2 up on b" is_state b l2 up
base=$(ctr b l2 drop_oversize) sent=$(ctr a l2 tx_frames)
count_start b "$B:tb2" 0xc2 1500
"$FC" send --tx "$A:ta2" --len 1514 --marker 0xc2 >/dev/null || fail "send 1514 on ta2"
wait_until 5 "b's drop_oversize on l2" ctr_ge b l2 drop_oversize $((base + 1))
count_result
[ "$COUNT" = 0 ] || fail "a 1514-byte frame arrived on tb2 (mtu $MTU)"
[ "$(ctr a l2 tx_frames)" -gt "$sent" ] || fail "a did not send the 1514-byte frame on l2"
link_up l2

# inject_once MODE MARKER COUNTER: a frame with MARKER crosses a -> b while
# framecheck injects a copy of its record on va (MODE replay: verbatim,
# tamper: a byte of the tag flipped); b must drop the copy, counting it in
# COUNTER (drop_replay: its sequence number was seen; the window is checked
# before authentication, so a tampered copy of a received record lands
# there too), and deliver the frame exactly once
inject_once() {
  local base
  base=$(ctr b l1 "$3")
  replay_start "$1"
  marker_once "$2"
  replay_result
  wait_until 5 "b counts the $1 record in $3" ctr_ge b l1 "$3" $((base + 1))
  count_result
  [ "$COUNT" = 1 ] || fail "the frame of the $1 record arrived $COUNT times on tb1"
}

# ---- d. replay ------------------------------------------------------------

PORT_A=$(field a l1 local_addr) PORT_B=$(field a l1 remote_addr)
[[ $PORT_A == 10.77.0.1:* && $PORT_B == 10.77.0.2:* ]] \
  || fail "l1 does not run over the veth: $PORT_A -> $PORT_B"
PORT_A=${PORT_A##*:} PORT_B=${PORT_B##*:}

log "d. replay: a data record 10.77.0.1:$PORT_A -> 10.77.0.2:$PORT_B sent twice"
[ "$(field b l1 records)" = evio-rec/2 ] || fail "l1 does not use evio's data records with re-handshakes"
inject_once replay 0xd1 drop_replay
log "b rejected the replayed record (drop_replay $(ctr b l1 drop_replay))"
link_up l1
rx=$(ctr b l1 rx_frames)
seq_check "a -> b after the replay" "$A:ta1" "$B:tb1"
[ "$(ctr b l1 rx_frames)" -ge $((rx + $(jq .received <<<"$SEQ"))) ] || fail "b's rx_frames stopped counting"

# ---- e. tamper --------------------------------------------------------------

log "e. tamper: the same record again with a payload byte flipped"
inject_once tamper 0xe1 drop_replay
link_up l1

# b saw the original first, so the replay window dropped the copy;
# withhold the original (nft drops it on b by its TTL) so that only
# authentication can
log "e2. tamper with the original withheld: must fail to authenticate"
ns b nft add table ip fastpath || fail "nft add table (nftables is one of scripts/deps.sh's)"
ns b nft add chain ip fastpath in '{ type filter hook input priority 0; }' || fail "nft chain"
ns b nft add rule ip fastpath in ip saddr 10.77.0.1 udp sport "$PORT_A" udp dport "$PORT_B" \
  udp length '>' 900 ip ttl != 7 counter drop || fail "nft rule"
base=$(ctr b l1 drop_decrypt)
replay_start tamper --ttl 7
marker_once 0xe2
replay_result
wait_until 5 "b's drop_decrypt for the tampered record" ctr_ge b l1 drop_decrypt $((base + 1))
count_result
[ "$COUNT" = 0 ] || fail "a tampered frame was delivered ($COUNT) on tb1"
ns b nft list table ip fastpath | grep -q 'counter packets 1 ' \
  || fail "nft did not drop exactly the original: $(ns b nft list table ip fastpath)"
ns b nft delete table ip fastpath
link_up l1

# ---- f. garbage -------------------------------------------------------------

# garbage FROM: sends junk datagrams from ns a to b's l1 port, from another
# port (FROM=other) or from l1's own (FROM=own, by a raw socket that writes
# the UDP header itself); prints how many
garbage() {
  ns a python3 - "$1" "$PORT_A" "$PORT_B" <<'EOF'
import os, socket, struct, sys
src, sport, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dst = ("10.77.0.2", dport)
junk = [os.urandom(n) for n in (1, 5, 13, 48, 200, 1200)]
junk += [bytes([t, 0xfe, 0xfd]) + os.urandom(n) for t in (20, 21, 22, 23) for n in (10, 120)]
# a plaintext fatal alert in epoch 0, and STUN-looking bytes
junk += [bytes.fromhex("15fefd000000000000000500020228"), bytes([0, 1, 0, 0]) + os.urandom(40)]
if src == "own":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    junk = [struct.pack("!HHHH", sport, dport, 8 + len(j), 0) + j for j in junk]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for j in junk:
    s.sendto(j, dst)
print(len(junk))
EOF
}

log "f. garbage datagrams to b's port from another port and from l1's own"
for from in other own; do
  base=$(ctr b l1 drop_decrypt)
  n=$(garbage $from) || fail "sending garbage from the $from port"
  seq_check "a -> b after garbage ($from port)" "$A:ta1" "$B:tb1"
  link_up l1
  log "$n garbage datagrams from the $from port: b's drop_decrypt grew by $(( $(ctr b l1 drop_decrypt) - base ))"
done
seq_check "b -> a after garbage" "$B:tb1" "$A:ta1"

log "run time $(( ($(date +%s%N) - T0) / 1000000 )) ms"
echo "PASS: tincan_fastpath"
