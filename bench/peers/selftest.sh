#!/bin/bash
# Self-test of the bench peers: on the bench topology, each PEER given is
# brought up, its daemons checked alive, a 3 s iperf3 TCP run made a -> b
# across the tunnel, then torn down, and the namespaces checked bare again
# (no tunnel device, no process left). A peer may be given more than once.
#
# Usage: bash bench/peers/selftest.sh PEER [PEER...]   (as root)
#   PEER: a file bench/peers/PEER.sh, e.g. tinc openvpn n2n wireguard-go
# Prints "PASS: PEER <Mbit/s>" per peer; exits non-zero at the first failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || { sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
EVT_PREFIX=evbs$$-
source "$here/../../tests/lib/common.sh"
source "$here/../lib.sh"
evt_init
bench_topology

# st_alive PID...: every PID is a running process
st_alive() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
}
st_iperf_listening() { ns b ss -Hltn 'sport = :5201' | grep -q .; }
# st_bare NAME: namespace NAME has only lo and its veth end, and no process
st_bare() {
  local extra pids
  extra=$(ip -n "$EVT_PREFIX$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' \
          | grep -vx -e lo -e va -e vb || true)
  pids=$(ip netns pids "$EVT_PREFIX$1")
  [ -z "$extra" ] || { echo "devices left in $1: $extra"; return 1; }
  [ -z "$pids" ] || { echo "processes left in $1: $(ps -o pid=,args= -p "${pids//$'\n'/,}")"; return 1; }
}

# st_iperf PEER: 3 s of TCP a -> b over the inner addresses; sets ST_MBIT
st_iperf() {
  local out=$EVT_TMP/iperf-$1.json srv bps
  bg b "$EVT_TMP/iperf-$1-server.log" iperf3 -s -1 -B "$BENCH_INNER_B" >/dev/null
  srv=${EVT_PIDS[-1]}
  wait_until 5 "iperf3 server listening in b" st_iperf_listening
  ns a iperf3 -c "$BENCH_INNER_B" -t 3 -J >"$out" || fail "$1: iperf3 client failed: $(jq -r '.error? // empty' "$out" 2>/dev/null)"
  kill_wait "$srv"
  bps=$(jq '.end.sum_received.bits_per_second' "$out")
  ST_MBIT=$(awk -v b="$bps" 'BEGIN { printf "%.0f", b / 1e6 }')
}

for peer in "$@"; do
  [ -f "$here/$peer.sh" ] || fail "no peer script $here/$peer.sh"
  source "$here/$peer.sh"
  log "$peer: $(peer_version)"
  peer_up
  log "$peer: up; devices $PEER_DEV_A / $PEER_DEV_B, pids a: $PEER_PIDS_A, b: $PEER_PIDS_B"
  # only a peer without any daemon (the raw veth ceiling) may leave them empty
  [ -n "$PEER_PIDS_A$PEER_PIDS_B" ] || log "$peer: no daemon (PEER_PIDS_A/B empty)"
  st_alive $PEER_PIDS_A $PEER_PIDS_B || fail "$peer: a daemon is not running"
  ns a ip link show "$PEER_DEV_A" >/dev/null || fail "$peer: no $PEER_DEV_A in a"
  ns b ip link show "$PEER_DEV_B" >/dev/null || fail "$peer: no $PEER_DEV_B in b"
  # the inner MTU is every tunnel's (the raw veth ceiling keeps the underlay's)
  for side in a b; do
    [ -n "$PEER_PIDS_A$PEER_PIDS_B" ] || break
    dev=$PEER_DEV_A; [ "$side" = b ] && dev=$PEER_DEV_B
    mtu=$(ns "$side" cat "/sys/class/net/$dev/mtu")
    [ "$mtu" = "$BENCH_MTU" ] || fail "$peer: $dev in $side has MTU $mtu, not $BENCH_MTU"
  done
  st_iperf "$peer"
  st_alive $PEER_PIDS_A $PEER_PIDS_B || fail "$peer: a daemon died during the iperf3 run"
  peer_down
  wait_until 5 "$peer: namespace a bare after peer_down" st_bare a
  wait_until 5 "$peer: namespace b bare after peer_down" st_bare b
  echo "PASS: $peer $ST_MBIT Mbit/s"
done
