#!/bin/bash
# A broken STUN/TURN server costs a node only the candidates that server
# would give, and the node says which server failed and why.
#
#   node1 [TURN password WRONG, STUN srv:3479] 10.99.1.10 -- nat1 (home) --+
#   node2 [TURN password right]                10.99.2.10 -- nat2 (home) --+-- br0 "pub"
#   node3 [evio-tincan alone, resolver: srv:53, which never answers]       |
#                                               10.99.3.10 -- nat3 (home) --+
#                                                                          |
#     srv 10.99.100.10: prosody; coturn :3478 (TURN, test:testpw); coturn :3479 (STUN only);
#                       a "DNS server" on :53 that takes queries and never answers
#
# Checks:
# 1. node1 links with node2 on a direct pair (its side host, srflx or prflx,
#    never relay: its srflx candidate comes from the STUN server although
#    the TURN server refuses it), and pings over it;
# 2. node1's status "servers" says turn 10.99.100.10:3478 "401 Unauthorized"
#    (not used) and the STUN server ok (used), so does evioctl's table, and
#    its log has the line; the password is in no log;
# 3. evio-tincan with TURN and STUN names its resolver never answers keeps
#    answering its control socket (a link/create included) while the names
#    resolve, shows them "resolving" then "name not resolved", and gathers a
#    srflx candidate through the one STUN server left; a TURN server where
#    nothing listens shows the ICMP error.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/tincan.sh"
evt_init

SRV=$(net_srv_ip)
STUN_PORT=3479
BAD_PW=wrong-pw-$$

net_up 3
node_servers 2
coturn_stun_start srv "$EVT_TMP/stun" "$SRV" "$STUN_PORT"

# ---- 1. a wrong TURN password: degraded, still direct -------------------

D1=$(node_dir 1) D2=$(node_dir 2)
node_config 1 "$D1" turn_password="$BAD_PW" stun="$SRV:$STUN_PORT"
node_config 2 "$D2"
t0=$(date +%s%N)
node_start 1 "$D1"
node_start 2 "$D2"
node_wait_link 1 "$D1" connected 60
node_wait_link 2 "$D2" connected 60
log "link connected $(( ($(date +%s%N) - t0) / 1000000 )) ms after node1 started:" \
    "$(node_link 1 "$D1" | jq -c '{state, local_type, remote_type}')"
t=$(node_link 1 "$D1" local_type)
[[ $t =~ ^(host|srflx|prflx)$ ]] || fail "node1 (no TURN) is on a $t candidate, expected a direct one"
node_assert_direct 1 "$D1"
node_assert_direct 2 "$D2"
node_wait_ping 1 10.250.0.2 10
ns node2 ping -c 2 -i 0.2 -W 2 10.250.0.1 >/dev/null || fail "node2 cannot ping node1"

# ---- 2. ... and says why -------------------------------------------------

_server_is() {   # NODE_STATUS_JSON KIND SERVER JQ-CONDITION
  jq -e --arg k "$2" --arg s "$3" "[.servers[] | select(.kind == \$k and .server == \$s)]
        | length == 1 and (.[0] | $4)" <<<"$1" >/dev/null
}
st=$(node_status 1 "$D1")
log "node1 servers: $(jq -c '[.servers[] | {kind, server, state, error, used_as}]' <<<"$st")"
_server_is "$st" turn "$SRV:3478" '.state == "error" and .error == "401 Unauthorized" and .used_as == ""' \
  || fail "node1's status does not show the TURN server's 401"
_server_is "$st" stun "$SRV:$STUN_PORT" '.state == "ok" and .used_as == "stun" and (.mapped | startswith("10.99.100.1:"))' \
  || fail "node1's status does not show the STUN server in use"
st2=$(node_status 2 "$D2")
_server_is "$st2" turn "$SRV:3478" '.state == "ok" and .used_as == "turn" and (.relayed | startswith("10.99.100.10:"))' \
  || fail "node2's TURN server is not ok: $(jq -c .servers <<<"$st2")"
evctl "$(node_sock 1 "$D1")" status | grep -E "^turn $SRV:3478 +error +401 Unauthorized" >/dev/null \
  || fail "evioctl status does not print the TURN error: $(evctl "$(node_sock 1 "$D1")" status)"
grep -F "ice: turn $SRV:3478: 401 Unauthorized" "$D1/evio.log" >/dev/null \
  || fail "node1's log has no line for the TURN error"
n=$(grep -c -F "turn $SRV:3478: 401" "$D1/evio.log" || true)
[ "$n" -le 3 ] || fail "the TURN error was logged $n times"
! grep -r -F "$BAD_PW" "$D1"/*.log "$D2"/*.log >/dev/null || fail "a password reached a log"

# ---- 3. names that do not resolve, a resolver that hangs -----------------

bg srv "$EVT_TMP/dns.log" python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
n = 0
while True:
    s.recvfrom(2048)
    n += 1
    print("query", n)
' "$SRV" >/dev/null
wait_until 10 "the DNS sink listening" _coturn_listening srv "$SRV" 53
printf 'nameserver %s\noptions timeout:6 attempts:1\n' "$SRV" >"$EVT_TMP/resolv.conf"
N=node3
mkdir -p "$EVT_TMP/$N"
cat >"$EVT_TMP/$N/config.json" <<JSON
{"node": {"state_dir": "$EVT_TMP/$N/state", "run_dir": "$EVT_TMP/$N/run", "log_level": "debug"},
 "xmpp": {"host": "127.0.0.1", "user": "$N@evio.test", "password": "x", "tls": "none"},
 "stun": ["stun.evio.invalid:3478", "$SRV:$STUN_PORT"],
 "turn": [{"server": "turn.evio.invalid:3478", "user": "test", "password": "testpw"},
          {"server": "$SRV:3499", "user": "test", "password": "testpw"}],
 "overlays": {"lab": {"bridge": {"name": "evbr0", "ip": "10.250.0.3/24"}}}}
JSON
# its own view of /etc/resolv.conf, in a mount namespace of its own
bg "$N" "$EVT_TMP/tincan-$N.log" unshare --mount --propagation private \
  sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" --config "$3"' sh \
  "$EVT_TMP/resolv.conf" "$EVT_BUILD/evio-tincan" "$EVT_TMP/$N/config.json" >/dev/null
wait_until 5 "$N's control socket" tctl "$N" node/info
wait_until 5 "a DNS query from $N" grep -q query "$EVT_TMP/dns.log"

servers() { tctl "$N" link/stats | jq -c '[.servers[] | {kind, server, state, error, used_as}]'; }
# ms CMD...: how long CMD takes, in ms (CMD must succeed)
ms() { local a; a=$(date +%s%N); "$@" >/dev/null || fail "$* failed"; echo $(( ($(date +%s%N) - a) / 1000000 )); }

_down_seen() { tctl "$N" link/stats | jq -e --arg s "$SRV:3499" \
  '.servers[] | select(.server == $s) | .state == "error" and (.error | test("port unreachable"))' >/dev/null; }
wait_until 5 "the TURN server without a listener in error" _down_seen
log "while the resolver hangs: $(servers)"
tctl "$N" link/stats | jq -e '[.servers[] | select(.server | test("invalid")) | .state] == ["resolving", "resolving"]' \
  >/dev/null || fail "the names are not resolving any more: $(servers)"
t_info=$(ms tctl "$N" node/info)
FP=$(printf 'AB:%.0s' $(seq 31))AB
t_create=$(ms tctl "$N" link/create "{\"link_id\":\"l1\",\"tap\":\"t1\",\"controlling\":true,\"peer_fingerprint\":\"$FP\"}")
t_stats=$(ms tctl "$N" link/stats)
log "control answers while resolving: node/info $t_info ms, link/create $t_create ms, link/stats $t_stats ms"
[ "$t_info" -lt 500 ] && [ "$t_create" -lt 1000 ] && [ "$t_stats" -lt 500 ] \
  || fail "evio-tincan's control socket was slow while its resolver hung"
wait_until 10 "l1 gathered" gathered "$N" l1
cands=$(tctl "$N" link/local '{"link_id":"l1"}' | jq -c '[.candidates[] | split(" ")[7]]')
log "l1's candidates: $cands"
jq -e 'index("srflx") != null' <<<"$cands" >/dev/null \
  || fail "no srflx candidate through the STUN server that works: $cands"

_unresolved() { tctl "$N" link/stats | jq -e '[.servers[] | select(.server | test("invalid"))
  | .state == "error" and (.error | startswith("name not resolved"))] == [true, true]' >/dev/null; }
wait_until 20 "both names reported not resolved" _unresolved
log "after the resolver gave up: $(servers)"
tctl "$N" link/stats | jq -e --arg s "$SRV:$STUN_PORT" \
  '.servers[] | select(.server == $s) | .state == "ok" and .used_as == "stun"' >/dev/null \
  || fail "the STUN server that works is not the one used: $(servers)"
grep -E "ice: turn turn.evio.invalid:3478: name not resolved" "$EVT_TMP/tincan-$N.log" >/dev/null \
  || fail "no log line for the name that did not resolve"
echo "turn_error: ok"
