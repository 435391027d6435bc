#!/bin/bash
# evio-tincan on its own: two nodes, links driven by hand over the control
# socket the way the node agent drives them.
#
#   ns a                                         ns b
#   evio-tincan  (a/run/tincan.sock)             evio-tincan  (b/run/tincan.sock)
#   ta1 192.168.77.1 <==== DTLS over ICE ====>   tb1 192.168.77.2     link l1
#   ta2              <== wrong fingerprint ==>   tb2                  link l2
#   ta3              <======= removed =======>   tb3                  link l3
#   va 10.77.0.1/24 ----------- veth ----------- vb 10.77.0.2/24
#
# Checks: links come up on host candidates, pings both ways (full MTU too),
# oversized frames are counted, a wrong pinned fingerprint never comes up,
# a removed link is reported "peer closed" at once and a killed peer "peer
# silent" within 10 s, bad requests are refused, SIGTERM exits cleanly and
# the certificate survives a restart.
set -u
source "$(dirname "$0")/../lib/common.sh"
evt_init

[ -x "$EVT_BUILD/evio-tincan" ] || fail "no $EVT_BUILD/evio-tincan (make evio-tincan)"
[ -x "$EVT_BUILD/evioctl" ] || fail "no $EVT_BUILD/evioctl (make evioctl)"
command -v jq >/dev/null || fail "jq is not installed"

MTU=1410

ns_add a b
ip -n "${EVT_PREFIX}a" link add va type veth peer name vb netns "${EVT_PREFIX}b" \
  || fail "cannot create the veth pair"
ns a ip addr add 10.77.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.77.0.2/24 dev vb && ns b ip link set vb up

source "$EVT_TOP/tests/lib/tincan.sh"
start_tincan() { tincan_start "$@"; }
create_pair() { tincan_create_pair "$@" "$MTU"; }

log "starting evio-tincan in a and b"
start_tincan a
start_tincan b
FP_A=$(tctl a node/info | jq -r .fingerprint)
FP_B=$(tctl b node/info | jq -r .fingerprint)
[[ $FP_A =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || fail "a's fingerprint looks wrong: $FP_A"
[ "$FP_A" != "$FP_B" ] || fail "a and b have the same fingerprint"

log "link l1: create, exchange candidates, wait for up"
create_pair l1 ta1 tb1 "$FP_B" "$FP_A"
jq -e '[.candidates[] | select(test("192\\.168\\.77\\."))] | length == 0' <<<"$TINCAN_LOCAL_A$TINCAN_LOCAL_B" >/dev/null \
  || fail "a candidate was gathered on a TAP"
jq -e '.mac | test("^02(:[0-9a-f]{2}){5}$")' "$EVT_TMP/l1-a.json" >/dev/null \
  || fail "a's TAP MAC is not 02:xx:..: $(cat "$EVT_TMP/l1-a.json")"
[ "$(jq -r .fingerprint "$EVT_TMP/l1-a.json")" = "$FP_A" ] || fail "link/create fingerprint differs"
wait_until 15 "l1 up on a" is_state a l1 up
wait_until 15 "l1 up on b" is_state b l1 up

log "refused requests: duplicate link, duplicate TAP, bad candidate, bad args"
tctl a link/create "{\"link_id\":\"l1\",\"tap\":\"tax\",\"controlling\":true,\"peer_fingerprint\":\"$FP_B\"}" 2>/dev/null \
  && fail "a duplicate link_id was accepted"
tctl a link/create "{\"link_id\":\"lx\",\"tap\":\"ta1\",\"controlling\":true,\"peer_fingerprint\":\"$FP_B\"}" 2>/dev/null \
  && fail "a duplicate tap was accepted"
out=$(tctl a link/create '{"link_id":"lx","tap":"tax","peer_fingerprint":42}' 2>&1) \
  && fail "a numeric peer_fingerprint was accepted"
[[ $out == *"peer_fingerprint: expected 32 hex bytes separated by ':', got 42"* ]] \
  || fail "a numeric peer_fingerprint is refused with: $out"
tctl a link/remote '{"link_id":"l1","candidates":["candidate:garbage",17]}' 2>/dev/null \
  && fail "garbage candidates were accepted"
[ "$(field a l1 bad_candidates)" -ge 1 ] || fail "bad candidates were not counted"
tctl a link/remote '{"link_id":"nope"}' 2>/dev/null && fail "link/remote on an unknown link succeeded"
is_state a l1 up || fail "l1 went down after bad requests"
[ "$(tctl a node/info | jq .links)" = 1 ] || fail "node/info does not count 1 link"

log "ping both ways over l1"
ns a ip addr add 192.168.77.1/24 dev ta1
ns b ip addr add 192.168.77.2/24 dev tb1
wait_until 5 "first ping a -> b" ns a ping -c 1 -W 1 192.168.77.2
ns a ping -c 3 -i 0.2 -W 2 192.168.77.2 >/dev/null || fail "ping a -> b"
ns b ping -c 3 -i 0.2 -W 2 192.168.77.1 >/dev/null || fail "ping b -> a"
log "full-MTU ping (-M do -s $((MTU - 28)))"
ns a ping -c 2 -i 0.2 -W 2 -M do -s $((MTU - 28)) 192.168.77.2 >/dev/null || fail "full-MTU ping a -> b"
ns b ping -c 2 -i 0.2 -W 2 -M do -s $((MTU - 28)) 192.168.77.1 >/dev/null || fail "full-MTU ping b -> a"

log "oversized frames are dropped and counted"
ns a ip link set ta1 mtu 1500
ns a ping -c 2 -i 0.2 -W 1 -M do -s 1472 192.168.77.2 >/dev/null 2>&1 && fail "an oversized ping went through"
[ "$(field a l1 drop_oversize)" -gt 0 ] || fail "drop_oversize did not count: $(tctl a link/stats)"
ns a ip link set ta1 mtu $MTU

log "stats: frames counted, host candidates selected"
for n in a b; do
  s=$(tctl "$n" link/stats '{"link_id":"l1"}') || fail "link/stats on $n"
  jq -e '.links[0] | .tx_frames > 0 and .rx_frames > 0 and .tx_bytes > 0 and .rx_bytes > 0' <<<"$s" >/dev/null \
    || fail "$n: frames not counted: $s"
  jq -e '.links[0] | .local_type == "host" and .remote_type == "host"' <<<"$s" >/dev/null \
    || fail "$n: selected pair is not host/host: $s"
  jq -e '.links[0] | (.local_addr | test("^10\\.77\\.0\\.")) and (.remote_addr | test("^10\\.77\\.0\\."))' <<<"$s" >/dev/null \
    || fail "$n: selected pair is not on the veth: $s"
done

log "link l2: b pins a wrong fingerprint for a; it must never come up"
# the same fingerprint with its last hex digit changed
if [ "${FP_A: -1}" = 0 ]; then WRONG=${FP_A%?}1; else WRONG=${FP_A%?}0; fi
create_pair l2 ta2 tb2 "$FP_B" "$WRONG"
end=$(( $(date +%s) + 15 ))
while :; do
  sa=$(field a l2 state); sb=$(field b l2 state)
  [ "$sa" = up ] || [ "$sb" = up ] && fail "l2 came up despite a wrong fingerprint (a: $sa, b: $sb)"
  ra=$(field a l2 reason); rb=$(field b l2 reason)
  if { [ "$sa" = failed ] && [[ $ra == *fingerprint* ]]; } || { [ "$sb" = failed ] && [[ $rb == *fingerprint* ]]; }; then
    break
  fi
  [ "$(date +%s)" -lt "$end" ] || fail "l2 did not fail on the fingerprint (a: $sa/$ra, b: $sb/$rb)"
  sleep 0.1
done
log "l2: a $sa ($ra), b $sb ($rb)"
is_state a l1 up && is_state b l1 up || fail "l1 suffered from l2's failure"
tctl a link/remove '{"link_id":"l2"}' >/dev/null || fail "link/remove l2 on a"
tctl b link/remove '{"link_id":"l2"}' >/dev/null || fail "link/remove l2 on b"
ns a ip link show ta2 >/dev/null 2>&1 && fail "ta2 still exists after link/remove"
tctl a link/stats '{"link_id":"l2"}' 2>/dev/null && fail "l2 still listed after link/remove"

log "link l3: link/remove on b makes a fail l3 at once (peer closed)"
create_pair l3 ta3 tb3 "$FP_B" "$FP_A"
wait_until 15 "l3 up on a" is_state a l3 up
wait_until 15 "l3 up on b" is_state b l3 up
tctl b link/remove '{"link_id":"l3"}' >/dev/null || fail "link/remove l3 on b"
wait_until 3 "a reports l3 failed" is_state a l3 failed
[ "$(field a l3 reason)" = "peer closed" ] || fail "l3 failed for \"$(field a l3 reason)\""
list=$(tctl a link/list | jq -c '[.links[] | [.link_id, .tap, .state]] | sort')
[ "$list" = '[["l1","ta1","up"],["l3","ta3","failed"]]' ] || fail "link/list on a: $list"
tctl a link/remove '{"link_id":"l3"}' >/dev/null || fail "link/remove l3 on a"
list=$(tctl a link/list | jq -c '[.links[].link_id]')
[ "$list" = '["l1"]' ] || fail "link/list on a after removing l3: $list"

log "liveness: kill -9 b's evio-tincan, a must report l1 failed within 10 s"
kill -9 "$PID_b"
wait "$PID_b" 2>/dev/null
t0=$(date +%s%N)
wait_until 10 "a reports l1 failed" is_state a l1 failed
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
reason=$(field a l1 reason)
[ "$reason" = "peer silent" ] || fail "l1 failed for \"$reason\", expected \"peer silent\""
log "a reported l1 failed (peer silent) after ${ms} ms"
kill -0 "$PID_a" 2>/dev/null || fail "a's evio-tincan died"
tctl a node/info >/dev/null || fail "a's evio-tincan does not answer node/info"
ns b ip link show tb1 >/dev/null 2>&1 && fail "b's TAP outlived its process"

log "SIGTERM: a exits 0, removes its socket and TAPs"
kill -TERM "$PID_a"
wait "$PID_a"; rc=$?
[ "$rc" = 0 ] || fail "a's evio-tincan exited $rc on SIGTERM"
[ -e "$EVT_TMP/a/run/tincan.sock" ] && fail "a's control socket is still there"
ns a ip link show ta1 >/dev/null 2>&1 && fail "ta1 outlived its process"
[ "$(stat -c %a "$EVT_TMP/a/state/tincan.key")" = 600 ] || fail "tincan.key is not mode 0600"

log "restart: the certificate (and fingerprint) is reused"
start_tincan a -restart
[ "$(tctl a node/info | jq -r .fingerprint)" = "$FP_A" ] || fail "a's fingerprint changed across a restart"

echo "PASS: tincan_link"
