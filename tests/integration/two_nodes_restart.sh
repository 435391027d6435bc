#!/bin/bash
# Links survive crashes: a peer's agent dies and comes back; the datapath
# helper dies and is restarted by its supervisor.
#
#   node1 [evbr0 10.250.0.1] 10.99.1.10 -- nat1 (MASQ) --+
#                                                        br0 "pub" 10.99.100.254
#   node2 [evbr0 10.250.0.2] 10.99.2.10 -- nat2 (MASQ) --+
#                                                        |
#                                 srv 10.99.100.10: prosody (STARTTLS, test CA) + coturn
#
# Checks: kill -9 node2's evio and helpers -> node1 sees the link leave
# "connected" within 10 s and keeps running; node2 restarts -> the link comes
# back with node1's evio unchanged; kill -9 node1's evio-tincan -> evio
# restarts it (restarts goes up), the link comes back, ping works.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

d1=$EVT_TMP/node1 d2=$EVT_TMP/node2
nodes_up 2
node_wait_link 1 "$d1" connected 60
node_wait_link 2 "$d2" connected 60
node_wait_ping 1 10.250.0.2 10
node_assert_direct 1 "$d1"
ns node1 ping -c 2 -i 0.2 -W 2 10.250.0.2 >/dev/null || fail "no ping before the crash"
pid1=${NODE_PID[1]}
log "link connected; node1's evio is pid $pid1"

log "kill -9 node2's evio and its helpers"
t0=$(date +%s%N)
node_kill 2 "$d2"
node_wait_link_not 1 "$d1" connected 10
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "node1 reported the link $(node_link 1 "$d1" state 2>/dev/null || echo gone) after $ms ms"
kill -0 "$pid1" 2>/dev/null || fail "node1's evio died when its peer crashed"

log "node2 starts again"
t0=$(date +%s%N)
node_start 2 "$d2"
node_wait_link 1 "$d1" connected 60
node_wait_link 2 "$d2" connected 60
log "link back after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
kill -0 "$pid1" 2>/dev/null && [ "${NODE_PID[1]}" = "$pid1" ] || fail "node1's evio was restarted"
node_wait_ping 1 10.250.0.2 10
ns node1 ping -c 2 -i 0.2 -W 2 10.250.0.2 >/dev/null || fail "no ping after node2 came back"

tincan_restarts() {
  node_status 1 "$d1" | jq -r '.helpers[] | select(.name == "evio-tincan") | .restarts'
}
tincan_back() {
  local p r
  p=$(node_helper_pid 1 "$d1" evio-tincan) && r=$(tincan_restarts) || return 1
  [ "$p" -gt 0 ] && [ "$p" != "$1" ] && [ "$r" -gt "$2" ] && kill -0 "$p"
}
tpid=$(node_helper_pid 1 "$d1" evio-tincan) || fail "no evio-tincan in node1's status"
r0=$(tincan_restarts)
log "kill -9 node1's evio-tincan (pid $tpid, restarts $r0)"
t0=$(date +%s%N)
kill -9 "$tpid"
wait_until 20 "evio to restart evio-tincan" tincan_back "$tpid" "$r0"
log "evio-tincan restarted as pid $(node_helper_pid 1 "$d1" evio-tincan), restarts $(tincan_restarts)"
node_wait_link 1 "$d1" connected 60
node_wait_link 2 "$d2" connected 60
log "link back after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
node_wait_ping 1 10.250.0.2 10
ns node1 ping -c 3 -i 0.2 -W 2 10.250.0.2 || fail "no ping after evio-tincan restarted"
kill -0 "$pid1" 2>/dev/null || fail "node1's evio died"
echo "two_nodes_restart: ok"
