#!/bin/bash
# evio-tincan through a TURN relay (coturn) with a relay-only side: a's
# records go out on the relay fast path (ChannelData from libnice's socket,
# doc/tincan-control.md), checked with framecheck at the Ethernet level.
#
#   ns a (relay only)              ns s                        ns b
#   evio-tincan                    coturn 10.79.0.3:3478       evio-tincan
#   ta1 192.168.79.1  <======== link l1 through coturn ========>  tb1 192.168.79.2
#   va 10.79.0.1 ------------------ br0 ------------------------ vb 10.79.0.2
#                                  (+ 10.79.0.9: a spoofer)
#
# Checks: a. a ChannelData "record" from an address that is not the TURN
# server, sent while a learns the channel, is ignored; a2. so is one forged
# from the server's own address and port whose record does not authenticate
# (counted in turn_forged): the fast path starts with the real server once
# its records get through (nft held them back), and frames cross on it;
# b. every frame length 60..1424 crosses both ways, 3 rounds, intact, in
# order, none lost; c. the same a -> b while iperf3 loads a -> b (losses
# allowed, every length arrives), a's frames batched into ChannelData sends;
# d. the link stays up and coturn carried it.
set -u
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/coturn.sh"
evt_init

FC=$EVT_BUILD/tools/framecheck
for x in "$EVT_BUILD/evio-tincan" "$EVT_BUILD/evioctl" "$FC"; do
  [ -x "$x" ] || fail "no $x (make all units)"
done
for x in jq iperf3 python3 nft; do command -v "$x" >/dev/null || fail "$x is not installed"; done

MTU=1410
MAXF=$((MTU + 14))
source "$EVT_TOP/tests/lib/tincan.sh"
TINCAN_LOG_LEVEL=${TINCAN_LOG_LEVEL:-info}

a_on_path() { [ "$(field a l1 path)" = "$1" ]; }

# a's base socket (the one libnice reaches coturn from) has nothing queued
a_socket_drained() {
  [ "$(ns a ss -Huan "src 10.79.0.1" | awk '{ q += $2 } END { print q + 0 }')" = 0 ]
}

# ---- setup ------------------------------------------------------------

ns_add s a b
A=${EVT_PREFIX}a B=${EVT_PREFIX}b S=${EVT_PREFIX}s
ns s ip link add br0 type bridge && ns s ip link set br0 up
ns s ip addr add 10.79.0.3/24 dev br0 && ns s ip addr add 10.79.0.9/24 dev br0
# coturn tears allocations down without a default route in its namespace
ns s ip route add default dev br0
for n in a b; do
  ip -n "$S" link add "s$n" type veth peer name "v$n" netns "$EVT_PREFIX$n" || fail "veth to $n"
  ns s ip link set "s$n" master br0 up
done
ns a ip addr add 10.79.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.79.0.2/24 dev vb && ns b ip link set vb up
coturn_start s "$EVT_TMP/coturn" 10.79.0.3

# a. hold back every record coturn relays to a (ChannelData whose payload
# starts with evio's record type 0x2e; the DTLS handshake passes), so a
# learns no channel until the spoofed one has come and gone
ns a nft -f - <<'NFT' || fail "nft rules in a"
table inet evt {
  chain in {
    type filter hook input priority 0;
    ip saddr 10.79.0.3 udp sport 3478 @th,64,8 & 0xf0 == 0x40 @th,96,8 == 0x2e counter drop
  }
}
NFT

turn='"turn": [{"server": "10.79.0.3:3478", "user": "'$COTURN_USER'", "password": "'$COTURN_PASSWORD'"}]'
log "starting evio-tincan in a (relay only) and b, link l1 through coturn"
TINCAN_EXTRA=$turn TINCAN_ICE='"ignore_interfaces": [], "relay_only": true' tincan_start a
TINCAN_EXTRA=$turn tincan_start b
tincan_pair l1 ta1 tb1 $MTU
[ "$(field a l1 local_type)" = relay ] || fail "a's pair is $(field a l1 local_type)/$(field a l1 remote_type), not relayed"
[ "$(field a l1 path)" = ice ] || fail "a is on $(field a l1 path) with every record held back"

log "a. a spoofed ChannelData record from 10.79.0.9 to a's socket"
port=$(ns a ss -Huan "src 10.79.0.1" | awk '{ sub(/.*:/, "", $4); print $4; exit }')
[ -n "$port" ] || fail "no UDP socket of a's on 10.79.0.1"
ns s python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.79.0.9", 3478))
rec = bytes([0x2e]) + bytes(63)
s.sendto(bytes([0x40, 0x00, 0, len(rec)]) + rec, ("10.79.0.1", int(sys.argv[1])))' "$port" \
  || fail "cannot send the spoofed datagram"
wait_until 5 "a's socket read the spoofed datagram" a_socket_drained
[ "$(field a l1 path)" = ice ] || fail "a took the spoofed ChannelData: path $(field a l1 path) to $(field a l1 fast_to)"

# a2. the same from the TURN server's own address and port (a raw socket
# writes the IP header): only a record that authenticates teaches a channel
log "a2. a forged ChannelData record from coturn's address 10.79.0.3:3478, channel 0x4fff"
ns s python3 -c '
import socket, struct, sys
port = int(sys.argv[1])
rec = bytes([0x2f]) + bytes(63)          # a record of an odd generation, by its look
cd = bytes([0x4f, 0xff, 0, len(rec)]) + rec
udp = struct.pack("!HHHH", 3478, port, 8 + len(cd), 0) + cd
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton("10.79.0.3"), socket.inet_aton("10.79.0.1"))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, ("10.79.0.1", 0))' "$port" || fail "cannot send the forged datagram"
wait_until 5 "a's socket read the forged datagram" a_socket_drained
[ "$(field a l1 path)" = ice ] || fail "a took the forged ChannelData: path $(field a l1 path) to $(field a l1 fast_to)"
wait_until 5 "a counts the forged ChannelData" ctr_ge a l1 turn_forged 1
log "a counted $(ctr a l1 turn_forged) forged ChannelData and stays on libnice"
ns a nft delete table inet evt
wait_until 10 "a's fast path through the TURN server" a_on_path fast-relay
[ "$(field a l1 fast_to)" = 10.79.0.3:3478 ] || fail "a's fast path sends to $(field a l1 fast_to), not coturn"
link_up l1

# ---- b. every length, idle -------------------------------------------

log "b. lengths 60..$MAXF, 3 rounds each way"
sent0=$(ctr a l1 fast_tx_datagrams)
seq_check "a -> b idle" "$A:ta1" "$B:tb1" --rounds 3
[ "$(jq .lost <<<"$SEQ")" = 0 ] || fail "a -> b lost frames on an idle link: $SEQ"
seq_check "b -> a idle" "$B:tb1" "$A:ta1" --rounds 3
[ "$(jq .lost <<<"$SEQ")" = 0 ] || fail "b -> a lost frames on an idle link: $SEQ"
frames=$(( (MAXF - 60 + 1) * 3 ))
ctr_ge a l1 fast_tx_datagrams $((sent0 + frames)) \
  || fail "a sent $(( $(ctr a l1 fast_tx_datagrams) - sent0 )) datagrams on the fast path for $frames frames"
link_up l1

# ---- c. every length, under load ---------------------------------------

log "c. the same a -> b (10 rounds, window 64) while iperf3 sends a -> b"
ns a ip addr add 192.168.79.1/24 dev ta1
ns b ip addr add 192.168.79.2/24 dev tb1
load_start a b 192.168.79.2 l1
s0=$(ctr a l1 fast_tx_sends) d0=$(ctr a l1 fast_tx_datagrams) t=$(date +%s%N) base=$(ctr a l1 tx_bytes)
seq_check "a -> b under load" "$A:ta1" "$B:tb1" --rounds 10 --window 64
log "meanwhile a pushed $(( ($(ctr a l1 tx_bytes) - base) * 8000 / ($(date +%s%N) - t) )) Mbit/s through coturn"
sends=$(( $(ctr a l1 fast_tx_sends) - s0 )) dgrams=$(( $(ctr a l1 fast_tx_datagrams) - d0 ))
log "a: $dgrams datagrams in $sends sends, $(ctr a l1 drop_send) refused"
[ "$dgrams" -gt "$sends" ] || fail "no batching: $dgrams datagrams in $sends sends"
kill_wait "$IPERF_C" "$IPERF_S"

# ---- d. still up, and the relay carried it --------------------------------

link_up l1
[ "$(field a l1 path)" = fast-relay ] || fail "a left the relay fast path: $(field a l1 path)"
grep -q "fast path on through the TURN server" "$EVT_TMP/tincan-a.log" \
  || fail "a never logged its relay fast path"
for n in a b; do kill_wait "$(eval echo "\$PID_$n")"; done
coturn_stop
echo "PASS: tincan_relay"
