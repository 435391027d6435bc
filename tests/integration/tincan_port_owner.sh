#!/bin/bash
# The UDP port a link runs on can be shared only by its owner (issue 16,
# item 4): the fast path shares libnice's socket's address with SO_REUSEPORT,
# which the kernel grants only to sockets of the same effective UID, so a
# local unprivileged user cannot bind the port and read the link's STUN and
# TURN traffic (as anyone could while both sockets had SO_REUSEADDR).
#
#   ns a                                          ns b
#   evio-tincan (root)                            evio-tincan (root)
#   ta1 <================ link l1 ==============> tb1
#   va 10.77.0.1/24 ------------ veth ----------- vb 10.77.0.2/24
#   nobody: bind 10.77.0.1:PORT / 0.0.0.0:PORT with SO_REUSEADDR, SO_REUSEPORT
#
# Checks: with l1 up on its fast path, a process running as nobody in a
# cannot bind l1's UDP port on its address or the wildcard, with either
# option or both; a control bind of a free port as nobody works (the
# refusal is about the port); the link still carries every frame after.
set -u
source "$(dirname "$0")/../lib/common.sh"
evt_init

FC=$EVT_BUILD/tools/framecheck
for x in "$EVT_BUILD/evio-tincan" "$EVT_BUILD/evioctl" "$FC"; do
  [ -x "$x" ] || fail "no $x (make all units)"
done
for x in jq python3 /usr/bin/python3 setpriv; do command -v "$x" >/dev/null || fail "$x is not installed"; done
id nobody >/dev/null 2>&1 || fail "no user nobody"
[ "$(id -u)" = 0 ] || fail "needs root (namespaces, and a user to drop to)"

MTU=1410
MAXF=$((MTU + 14))
source "$EVT_TOP/tests/lib/tincan.sh"
TINCAN_LOG_LEVEL=${TINCAN_LOG_LEVEL:-info}

ns_add a b
A=${EVT_PREFIX}a B=${EVT_PREFIX}b
ip -n "$A" link add va type veth peer name vb netns "$B" || fail "cannot create the veth pair"
ns a ip addr add 10.77.0.1/24 dev va && ns a ip link set va up
ns b ip addr add 10.77.0.2/24 dev vb && ns b ip link set vb up

log "starting evio-tincan in a and b (as root), link l1"
tincan_start a
tincan_start b
tincan_pair l1 ta1 tb1 $MTU
# the fast path's socket is bound beside libnice's once frames flow
seq_check "a -> b" "$A:ta1" "$B:tb1"
wait_until 10 "l1 on its fast path in a" test "$(field a l1 path)" = fast
LOCAL=$(field a l1 local_addr)
[[ $LOCAL == 10.77.0.1:* ]] || fail "l1 does not run over the veth: $LOCAL"
PORT=${LOCAL##*:}
log "l1's UDP port in a: $LOCAL; sockets on it: $(ns a ss -Huan "sport = :$PORT" | wc -l)"
[ "$(ns a ss -Huan "sport = :$PORT" | wc -l)" -ge 2 ] \
  || fail "expected libnice's socket and the fast path's on port $PORT: $(ns a ss -Huan "sport = :$PORT")"

# try_bind IP PORT: as nobody in a, bind a UDP socket to IP:PORT with
# SO_REUSEADDR, SO_REUSEPORT and both; prints one line per attempt
try_bind() {
  # the system python: a per-user one (pyenv under /root) is not for nobody
  ns a setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
for name, opts in (("SO_REUSEADDR", [socket.SO_REUSEADDR]), ("SO_REUSEPORT", [socket.SO_REUSEPORT]),
                   ("both", [socket.SO_REUSEADDR, socket.SO_REUSEPORT])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for o in opts:
        s.setsockopt(socket.SOL_SOCKET, o, 1)
    try:
        s.bind((ip, port))
        print("bound %s:%d with %s" % (ip, port, name))
    except OSError as e:
        print("refused %s:%d with %s: %s" % (ip, port, name, e.strerror))
    s.close()
PY
}

for ip in 10.77.0.1 0.0.0.0; do
  out=$(try_bind $ip "$PORT") || fail "could not run the bind attempts as nobody"
  while read -r line; do log "nobody: $line"; done <<<"$out"
  [ "$(grep -c '^refused .*Address already in use' <<<"$out")" = 3 ] \
    || fail "an unprivileged process could bind l1's port $ip:$PORT: $out"
done

# the refusal is about the port: a free one binds as nobody
FREE=$(ns a python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.1", 0)); print(s.getsockname()[1])')
out=$(try_bind 10.77.0.1 "$FREE")
[ "$(grep -c '^bound' <<<"$out")" = 3 ] || fail "nobody cannot bind a free port either: $out"

link_up l1
seq_check "a -> b after the attempts" "$A:ta1" "$B:tb1"
[ "$(jq .lost <<<"$SEQ")" = 0 ] || fail "a -> b lost frames: $SEQ"
echo "PASS: tincan_port_owner"
