# bench peer: n2n 1.3 (Debian's n2n 1.3.1~svn3789, "n2n v.1.3.2"): a
# supernode plus two edges, an L2 tunnel (TAP device "n2n0" on each side).
# Sourced by the bench; see bench/lib.sh.
#
#   ns a: supernode (UDP 7654 on 10.66.0.1), edge a (n2n0 10.67.0.1/24, UDP 7655)
#   ns b: edge b (n2n0 10.67.0.2/24, UDP 7655)
# Both edges register with the supernode, which introduces them; the edges
# then REGISTER with each other and send their data directly (edge <-> edge
# over va/vb). Until that direct registration is done, n2n relays through the
# supernode, so peer_up waits for both edges to log the other as an
# operational peer ("Operational peers list size=1") before it returns.
# The supernode then forwards no data (its CPU time stays at 0 during an
# iperf3 run) and is not in PEER_PIDS_A; peer_down stops it all the same.
#
# Settings, and why:
#   -k KEY       the community's shared key: n2n 1.x encrypts with Twofish
#                (its only cipher; no AEAD, no separate authentication).
#   -M $BENCH_MTU  the common inner MTU (n2n's default is 1400 too).
#   -m MAC       fixed MACs, as the man page recommends.
#   UDP is n2n's only transport here (-t, HTTP tunnelling, is not used).
# Limitations of n2n 1.x, measured here:
#   - No knob turns compression off: every packet is LZO-compressed after it
#     is encrypted, so it never shrinks (a few bytes of growth, CPU spent).
#   - Its overhead is ~94 bytes per frame (n2n header, LZO, Twofish block),
#     so at inner MTU 1400 a full frame (1414) leaves as a 1508-byte UDP
#     payload: every full-size packet is IP-fragmented in two on the 1500
#     veth. Only an inner MTU <= 1364 avoids it. The bench keeps the common
#     $BENCH_MTU (n2n's own default, 1400, does the same).
#   - No documented performance knobs (socket buffers, threads); -v would
#     log every packet, so it is not used.
# The edge sets the address and MTU itself (with /sbin/ifconfig, from
# net-tools); peer_up re-asserts them with ip so the result does not depend
# on that.
# The edges and the supernode run in the foreground under bg (no -f).

_n2n_dir() { echo "$EVT_TMP/n2n"; }
_n2n_sn_pid=

peer_version() {
  local v
  v=$(edge -h 2>/dev/null | awk '/Welcome to n2n/ { sub(/^v\./, "", $4); print $4; exit }') || true
  echo "n2n ${v:-unknown}"
}

# _n2n_edge SIDE INNER MAC: start one edge, wait for its device, set it up
_n2n_edge() {
  local side=$1 inner=$2 mac=$3 d
  d=$(_n2n_dir)
  bg "$side" "$d/edge-$side.log" env N2N_KEY="$_n2n_key" edge -d n2n0 \
    -a "$inner" -s 255.255.255.0 -c bench -m "$mac" -M "$BENCH_MTU" \
    -p 7655 -l "$BENCH_UNDER_A:7654" >/dev/null
  if [ "$side" = a ]; then PEER_PIDS_A=${EVT_PIDS[-1]}; else PEER_PIDS_B=${EVT_PIDS[-1]}; fi
  wait_until 10 "n2n: n2n0 in $side" ns "$side" ip link show n2n0
  ns "$side" ip addr replace "$inner/24" dev n2n0
  ns "$side" ip link set n2n0 mtu "$BENCH_MTU" up
}

_n2n_sn_listening() { ns a ss -Hlun 'sport = :7654' | grep -q .; }
# _n2n_direct SIDE: that edge has the other one as an operational peer
_n2n_direct() { grep -q 'Operational peers list size=1' "$(_n2n_dir)/edge-$1.log"; }

peer_up() {
  local d
  d=$(_n2n_dir)
  PEER_PIDS_A= PEER_PIDS_B= PEER_DEV_A=n2n0 PEER_DEV_B=n2n0 _n2n_sn_pid=
  rm -rf "$d" && mkdir -p "$d"
  _n2n_key=$(head -c 24 /dev/urandom | base64)
  bg a "$d/supernode.log" supernode -l 7654 >/dev/null
  _n2n_sn_pid=${EVT_PIDS[-1]}
  wait_until 10 "n2n: supernode listens on UDP 7654" _n2n_sn_listening
  _n2n_edge a "$BENCH_INNER_A" 02:6e:32:6e:00:01
  _n2n_edge b "$BENCH_INNER_B" 02:6e:32:6e:00:02
  bench_wait_inner 30
  wait_until 20 "n2n: edge a talks to b directly" _n2n_direct a
  wait_until 20 "n2n: edge b talks to a directly" _n2n_direct b
}

peer_down() {
  local s
  kill_wait ${PEER_PIDS_A:-} ${PEER_PIDS_B:-} ${_n2n_sn_pid:-}
  for s in a b; do
    ns "$s" ip link del n2n0 2>/dev/null || true
  done
  rm -rf "$(_n2n_dir)"
  PEER_PIDS_A= PEER_PIDS_B= _n2n_sn_pid=
  return 0
}
