#!/bin/bash
# Readiness (issue 13): evio tells a supervisor READY=1 (sd_notify datagram
# protocol, NOTIFY_SOCKET) only once its overlay's bridge carries its
# address; `evioctl wait` gives the same answer without systemd; and how long
# the link is down across an agent restart (what an upgrade's `systemctl
# restart evio` does).
#
#   node1 [evbr0 10.250.0.1] 10.99.1.10 -- nat1 (MASQ) --+
#     NOTIFY_SOCKET -> notify.sock                        br0 "pub" 10.99.100.254
#     (python3 listener in the root namespace)            |
#   node2 [evbr0 10.250.0.2] 10.99.2.10 -- nat2 (MASQ) --+
#                                                         |
#                                  srv 10.99.100.10: prosody (STARTTLS, test CA) + coturn
#
# Checks: READY=1 arrives, with 10.250.0.1 already on node1's evbr0 when it
# does; status says ready; `evioctl wait --timeout 20` exits 0; the helpers
# do not inherit NOTIFY_SOCKET. node2 first runs with ovs.db pointing where
# no Open vSwitch answers (its bridge can never be made): `evioctl wait
# --timeout 2` exits 1 and names the bridge. Then node2 runs normally, the
# link connects, and node1's evio gets SIGTERM and is started again at once
# while node2 pings node1 every 0.1 s: STOPPING=1 and a new READY=1 arrive,
# the ping outage and the time until the link is connected again are logged,
# and the link must be back within 20 s.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

d1=$EVT_TMP/node1 d2=$EVT_TMP/node2
ctl() { "$EVT_BUILD/evioctl" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# usage errors exit 2 before any daemon is asked; --help names wait
for bad in "--timeout x" "--timeout 0" "--timeout" "extra"; do
  rc=0; ctl -s "$EVT_TMP/none.sock" wait $bad 2>/dev/null || rc=$?
  [ "$rc" = 2 ] || fail "evioctl wait $bad exited $rc, not 2"
done
ctl --help | grep -q 'wait \[--timeout S\]' || fail "evioctl --help does not mention wait"

net_up 2
node_servers 2
node_config 1 "$d1"
node_config 2 "$d2"

# the supervisor's side: a datagram socket; for each READY=1 it notes
# whether node1's bridge has its address at that moment
notify=$EVT_TMP/notify.sock notes=$EVT_TMP/notify.txt
python3 -c '
import socket, subprocess, sys, time
path, out, netns = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        fields = s.recv(4096).decode(errors="replace").strip().split("\n")
        extra = ""
        if "READY=1" in fields:
            r = subprocess.run(["ip", "-n", netns, "-o", "-4", "addr", "show", "dev", "evbr0"],
                               capture_output=True, text=True)
            extra = " addr=" + ("yes" if " inet 10.250.0.1/24 " in r.stdout else "no")
        f.write("%d %s%s\n" % (time.time() * 1000, " | ".join(fields), extra))
' "$notify" "$notes" "${EVT_PREFIX}node1" >"$EVT_TMP/notify.log" 2>&1 &
track $!
: >"$notes"
wait_until 5 "the notify listener's socket" test -S "$notify"

ready_count() { grep -c 'READY=1' "$notes" || true; }
start_node1() {
  export NOTIFY_SOCKET=$notify
  node_start 1 "$d1"
  unset NOTIFY_SOCKET
}

log "node1 starts with NOTIFY_SOCKET=$notify"
t0=$(now_ms)
start_node1
wait_until 20 "READY=1 from node1" grep -q 'READY=1' "$notes"
grep 'READY=1' "$notes" | grep -q 'addr=yes' \
  || fail "READY=1 arrived before evbr0 had 10.250.0.1: $(cat "$notes")"
log "notifications: $(cut -d' ' -f2- "$notes" | paste -sd ';')"
log "READY=1 $(( $(grep 'READY=1' "$notes" | head -1 | cut -d' ' -f1) - t0 )) ms after start, evbr0 had its address"
rc=0; out=$(ctl -s "$d1/run/evio.sock" wait --timeout 20) || rc=$?
[ "$rc" = 0 ] || fail "evioctl wait on a ready node exited $rc"
log "evioctl wait: $out"
node_status 1 "$d1" | jq -e '.ready and (.overlays[0].bridge_ready == true)' >/dev/null \
  || fail "node1's status does not say ready: $(node_status 1 "$d1" | jq -c '{ready, o: [.overlays[] | {bridge, bridge_ready}]}')"
for h in evio-tincan evio-switchctl; do
  p=$(node_helper_pid 1 "$d1" "$h")
  ! tr '\0' '\n' <"/proc/$p/environ" | grep -q '^NOTIFY_SOCKET=' \
    || fail "$h inherited NOTIFY_SOCKET"
done

log "node2 with ovs.db where no Open vSwitch answers: its bridge is never made"
jq --arg db "unix:$d2/ovs/absent.sock" '.ovs.db = $db' "$d2/config.json" >"$d2/bad.json"
cp "$d2/config.json" "$d2/good.json" && cp "$d2/bad.json" "$d2/config.json"
node_start 2 "$d2"
rc=0; ctl -s "$d2/run/evio.sock" wait --timeout 2 2>"$EVT_TMP/wait2.err" || rc=$?
[ "$rc" = 1 ] || fail "evioctl wait on a node that cannot be ready exited $rc, not 1"
grep -q 'bridge evbr0' "$EVT_TMP/wait2.err" || fail "evioctl wait did not name the bridge: $(cat "$EVT_TMP/wait2.err")"
log "evioctl wait --timeout 2: exit 1: $(cat "$EVT_TMP/wait2.err")"
node_status 2 "$d2" | jq -e '(.ready | not) and .ready_after_ms == null' >/dev/null \
  || fail "node2 says ready without a bridge"
node_stop 2 "$d2"
cp "$d2/good.json" "$d2/config.json"
node_start 2 "$d2"
ctl -s "$d2/run/evio.sock" wait --timeout 20 >/dev/null || fail "node2 not ready with a working OVS"
node_wait_link 1 "$d1" connected 60
node_wait_link 2 "$d2" connected 60
node_wait_ping 2 10.250.0.1 10

# the upgrade: SIGTERM node1's evio, start it again at once, while node2 pings
log "restart node1's evio (SIGTERM, then start at once) while node2 pings it every 0.1 s"
ns node2 ping -D -i 0.1 -W 1 10.250.0.1 >"$EVT_TMP/ping.log" 2>&1 &
ping_pid=$!
track "$ping_pid"
wait_until 5 "the first ping reply" grep -q 'bytes from' "$EVT_TMP/ping.log"
n_ready=$(ready_count)
pid=${NODE_PID[1]} kids=$(_node_children "${NODE_PID[1]}")
t0=$(now_ms)
kill_wait "$pid"
[ -n "$kids" ] && kill_wait $kids
t_exit=$(now_ms)
NODE_PID[1]=
grep -q 'STOPPING=1' "$notes" || fail "no STOPPING=1 from node1's evio on SIGTERM"
start_node1
ctl -s "$d1/run/evio.sock" wait --timeout 20 >/dev/null || fail "node1 not ready after the restart"
t_ready=$(now_ms)
[ "$(ready_count)" -gt "$n_ready" ] || fail "no READY=1 from the restarted evio"
node_wait_link 1 "$d1" connected 20
node_wait_link 2 "$d2" connected 20
t_link=$(now_ms)
node_wait_ping 2 10.250.0.1 20
t_ping=$(now_ms)
replies_since() {   # replies_since MS N: at least N ping replies after time MS
  awk -v t="$1" -v n="$2" '/bytes from/ { gsub(/[][]/, "", $1); if ($1 * 1000 > t) k++ }
                           END { exit !(k >= n) }' "$EVT_TMP/ping.log"
}
wait_until 5 "pings after the restart" replies_since "$t_ping" 5
kill "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true

# the longest gap between two replies, and the sequence numbers never answered
read -r gap lost < <(awk '/bytes from/ {
    gsub(/[][]/, "", $1); split($0, a, "icmp_seq="); split(a[2], b, " "); s = b[1]
    if (prev != "" && $1 - prev > gap) gap = $1 - prev
    if (last != "" && s > last + 1) lost += s - last - 1
    prev = $1; last = s }
  END { printf "%d %d\n", gap * 1000, lost }' "$EVT_TMP/ping.log")
log "restart: evio exited $(( t_exit - t0 )) ms after SIGTERM; ready $(( t_ready - t0 )) ms," \
    "link connected at both ends $(( t_link - t0 )) ms after SIGTERM"
log "restart outage: longest gap between ping replies $gap ms, $lost pings of 0.1 s unanswered"
[ "$gap" -lt 20000 ] || fail "the link was down ${gap} ms across the restart (limit 20 s)"
echo "readiness: ok"
