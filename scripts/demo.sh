#!/bin/bash
# A local evio overlay to look at: NODES nodes (default 6), each behind its own
# NAT in network namespaces, with prosody and coturn on an emulated internet.
# The same bench as tests/integration/topology_8.sh, but with fixed names
# (namespaces evio-demo-*, files in /var/tmp/evio-demo) and left running.
#
#   node<i> [evbr0 10.250.0.<i>] 10.99.<i>.10 -- nat<i> (MASQ) --+
#                                                 ...            br0 "pub" -- srv 10.99.100.10
#                                                                            prosody + coturn
# Usage: scripts/demo.sh up [BUILD_DIR] | down      (as root; NODES=N to grow it)
# The NATs are home routers; NET_KINDS="public home lan:2 symmetric ..." picks
# each site's kind (tests/lib/net.sh).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
DEMO_DIR=/var/tmp/evio-demo
export EVT_PREFIX=evio-demo- EVT_TMP=$DEMO_DIR

demo_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$EVT_PREFIX" || true; }

# down: every recorded PID, every process left in a demo namespace, every
# demo namespace. Safe to run any number of times.
demo_down() {
  local pids=() p n i alive
  [ -f "$DEMO_DIR/pids" ] && pids+=($(cat "$DEMO_DIR/pids"))
  for n in $(demo_namespaces); do pids+=($(ip netns pids "$n" 2>/dev/null)); done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for n in $(demo_namespaces); do ip netns del "$n" || true; done
  rm -rf "$DEMO_DIR"
}

demo_failed() {
  local rc=$?
  trap - EXIT
  [ "$rc" = 0 ] && return 0
  echo "demo: bring-up failed (exit $rc); logs:" >&2
  for f in "$DEMO_DIR"/*.log "$DEMO_DIR"/*/*.log; do
    [ -f "$f" ] || continue
    printf '==== %s (last 30 lines)\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
  echo "demo: cleaning up" >&2
  demo_down
  exit "$rc"
}

# demo_pairs N: one line per link end, then how many are direct.
demo_pairs() {
  local i direct=0 relayed=0 l
  for i in $(seq 1 "$1"); do
    while read -r l; do
      [ -n "$l" ] || continue
      echo "  node$i -> $l"
      case $l in *relay*) relayed=$((relayed + 1)) ;; *) direct=$((direct + 1)) ;; esac
    done < <(node_status "$i" "$DEMO_DIR/node$i" | jq -r '.overlays[].links[]
               | select(.state == "connected") | "\(.peer[0:12])  \(.local_type)/\(.remote_type)"')
  done
  echo "  $direct link ends direct, $relayed through the TURN server"
}

demo_up() {
  local build=${1:-$top/build} nodes=${NODES:-6} i p j peer k
  [ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }
  [ "$nodes" -ge 2 ] && [ "$nodes" -le 99 ] || { echo "demo: NODES must be 2..99" >&2; exit 2; }
  EVT_BUILD=$(cd "$build" 2>/dev/null && pwd) || { echo "demo: no build directory $build" >&2; exit 2; }
  export EVT_BUILD
  for p in evio evioctl evio-tincan evio-switchctl; do
    [ -x "$EVT_BUILD/$p" ] || { echo "demo: $EVT_BUILD/$p is not built (make BUILD=$build all)" >&2; exit 2; }
  done
  if [ -n "$(demo_namespaces)" ] || [ -d "$DEMO_DIR" ]; then
    echo "demo: a demo is already up; taking it down first"
    demo_down
  fi
  mkdir -p "$DEMO_DIR"
  source "$top/tests/lib/common.sh"
  source "$top/tests/lib/net.sh"
  source "$top/tests/lib/coturn.sh"
  source "$top/tests/lib/node.sh"
  [ -f "$top/tests/lib/prosody.sh" ] || fail "tests/lib/prosody.sh is missing"
  source "$top/tests/lib/prosody.sh"
  source "$top/tests/lib/topo.sh"
  trap demo_failed EXIT
  trap 'exit 130' INT TERM
  set -e

  nodes_up "$nodes"      # a failure here is cleaned up by namespace (demo_down)
  log "waiting for the overlay to converge: ring, chords, every edge connected (up to 120 s)"
  topo_wait 120 $(seq 1 "$nodes")
  printf '%s\n' "${EVT_PIDS[@]}" >"$DEMO_DIR/pids"

  echo
  echo "==== node1: evioctl --socket $DEMO_DIR/node1/run/evio.sock topology"
  evctl "$DEMO_DIR/node1/run/evio.sock" topology
  j=$(topo_collect $(seq 1 "$nodes"))
  echo
  echo "==== the overlay: every node's successors (the ring) and long-distance edges (chords)"
  topo_summary "$j"
  for i in $(seq 1 "$nodes"); do
    evctl "$DEMO_DIR/node$i/run/evio.sock" topology --dot >"$DEMO_DIR/node$i/topology.dot"
  done
  echo
  echo "==== every link's selected ICE pair (relay = through the TURN server)"
  demo_pairs "$nodes"
  echo
  echo "==== node1 pings every node (direct edge or several hops)"
  for k in $(seq 2 "$nodes"); do
    node_wait_ping 1 "10.250.0.$k" 20
    echo "---- ip netns exec ${EVT_PREFIX}node1 ping -c 3 10.250.0.$k   (node$k)"
    ns node1 ping -c 3 -i 0.3 "10.250.0.$k"
  done
  set +e
  trap - EXIT INT TERM

  cat <<EOF

evio demo is up: $nodes nodes on overlay "lab" (10.250.0.1 .. 10.250.0.$nodes).
Every node reaches every other, over as many overlay hops as the ring and
chords need (bounded flooding for broadcasts, learned flows for unicast).
Look around:
  $EVT_BUILD/evioctl --socket $DEMO_DIR/node1/run/evio.sock status
  $EVT_BUILD/evioctl --socket $DEMO_DIR/node1/run/evio.sock topology
  dot -Tsvg $DEMO_DIR/node1/topology.dot > ring.svg      (graphviz: node1's view)
  $EVT_BUILD/evioctl --socket $DEMO_DIR/node1/run/evio.sock --json status | jq .
  $EVT_BUILD/evioctl --socket $DEMO_DIR/node1/run/tincan.sock link/stats
  ip netns exec ${EVT_PREFIX}node1 ping 10.250.0.2
  ip netns exec ${EVT_PREFIX}pub tcpdump -n -i br0        (the internet: only DTLS/UDP)
  logs: $DEMO_DIR/node<i>/evio.log, $DEMO_DIR/prosody/, $DEMO_DIR/coturn/
Stop it: make demo-down   (or scripts/demo.sh down)
EOF
}

case ${1:-} in
  up) shift; demo_up "$@" ;;
  down)
    [ "$(id -u)" = 0 ] || { echo "demo: needs root" >&2; exit 1; }
    demo_down; echo "demo: down" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
