# The overlay's topology seen from outside, through every node's control
# socket (source after node.sh). Used by the multi-node tests and the demo.
#
#   topo_collect I...     one JSON array: "evioctl topology --json" of each node
#   topo_problems JSON    what keeps the overlay from being converged, one per
#                         line; nothing when it is
#   topo_wait SECONDS I...   until node I... are converged
#   topo_summary JSON     one line per node: successors, long-distance, incoming
#   topo_geometry JSON    ring places of nodes 1..N, for topo_dist / topo_ring_at
#
# Node I's files are in $(node_dir I) (node.sh).

topo_collect() {
  local i
  for i in "$@"; do
    evctl "$(node_sock "$i" "$(node_dir "$i")")" --json topology || echo null
  done | jq -s '[.[] | select(. != null) | .overlays[0] + {node_id}]'
}

# Converged means, for every live node X (the nodes in JSON):
#  - X's ring is exactly the other live nodes (its room view is right);
#  - X plans its true successors: the next min(min_successors, N-1) live IDs
#    clockwise, by 128-bit ID;
#  - X plans k = floor(log2(N-1)) long-distance edges (TOPO_K=k overrides,
#    for overlays configured with a cap), or fewer only when no peer is left
#    that X has no edge with (the engine's redraw rule);
#  - every edge X plans is connected, and connected at the other end too;
#  - every connected edge at X is planned by X or by its peer (nothing stray).
topo_problems() {
  jq -r --argjson kset "${TOPO_K:-null}" '
    . as $nodes
    | ($nodes | map(.node_id) | sort) as $ids
    | ($ids | length) as $n
    | (reduce $nodes[] as $x ({}; .[$x.node_id] = $x)) as $by
    | def conn($x; $p): any($x.edges[]; .peer == $p and .state == "connected");
      def plans($x; $p): any($x.planned[]; .peer == $p);
      def log2floor($v): if $v < 2 then 0 else 1 + log2floor(($v / 2) | floor) end;
    $nodes[] as $x
    | ($ids | index($x.node_id)) as $pos
    | ($x.node_id[0:8]) as $me
    | ([range(1; $n)] | map($ids[($pos + .) % $n])) as $clockwise
    | ($clockwise[0:([$x.min_successors, $n - 1] | min)]) as $succ
    | ([$x.planned[] | select(.type == "successor") | .peer]) as $psucc
    | ([$x.planned[] | select(.type == "long_distance")]) as $plong
    | (if $kset == null then log2floor($n - 1) else $kset end) as $k
    | ( if ($x.ring | sort) != ($clockwise | sort)
          then "\($me): ring has \($x.ring | length) peers, expected \($n - 1)" else empty end ),
      ( if ($psucc | sort) != ($succ | sort)
          then "\($me): plans successors \($psucc | map(.[0:8])), expected \($succ | map(.[0:8]))"
          else empty end ),
      ( if ($plong | length) != $k
             and any($clockwise[]; . as $p | (plans($x; $p) or any($x.edges[]; .peer == $p)) | not)
          then "\($me): plans \($plong | length) long-distance edges, expected \($k)" else empty end ),
      ( $x.planned[] | select(conn($x; .peer) | not)
        | "\($me): planned \(.type) edge to \(.peer[0:8]) is \(.edge)" ),
      ( $x.planned[] | select($by[.peer] != null and (conn($by[.peer]; $x.node_id) | not))
        | "\($me): \(.peer[0:8]) has no connected edge back" ),
      ( $x.edges[] | select(.state == "connected")
        | select((plans($x; .peer) or ($by[.peer] != null and plans($by[.peer]; $x.node_id))) | not)
        | "\($me): stray connected edge to \(.peer[0:8]) (\(.type))" )
  ' <<<"$1"
}

# _topo_converged I...: succeeds when converged, else prints what is wrong.
_topo_converged() {
  local j p
  j=$(topo_collect "$@") || return 1
  [ "$(jq length <<<"$j")" = "$#" ] || { echo "$(jq length <<<"$j") of $# nodes answered"; return 1; }
  p=$(topo_problems "$j") || return 1
  [ -z "$p" ] || { printf '%s\n' "$p"; return 1; }
}

# topo_wait SECONDS I...: until the nodes I... form a converged overlay;
# fails naming what was still wrong.
topo_wait() {
  local secs=$1; shift
  wait_until "$secs" "nodes $* to converge" _topo_converged "$@"
}

topo_summary() {
  jq -r '.[] | "\(.node_id[0:8])  successors \([.planned[] | select(.type == "successor") | .peer[0:8]] | join(","))  long-distance \([.planned[] | select(.type == "long_distance") | .peer[0:8]] | join(","))  incoming \([.edges[] | select(.type == "incoming" and .state == "connected") | .peer[0:8]] | join(","))"' <<<"$1"
}

# topo_geometry JSON: the ring of topo_collect's answer for nodes 1..N (node
# I at index I-1): TOPO_N, TOPO_ID[I], TOPO_POS[I] (its place in ID order)
# and TOPO_RING[P] (the node at place P). Then:
#   topo_dist I K        ring distance between nodes I and K, either way
#   topo_ring_at I STEPS the node STEPS places clockwise from I (negative:
#                        counter-clockwise)
declare -A TOPO_ID TOPO_POS TOPO_RING
TOPO_N=0
topo_geometry() {
  local j=$1 i id p=0
  TOPO_N=$(jq length <<<"$j")
  TOPO_ID=() TOPO_POS=() TOPO_RING=()
  for i in $(seq 1 "$TOPO_N"); do TOPO_ID[$i]=$(jq -r ".[$((i - 1))].node_id" <<<"$j"); done
  for id in $(jq -r 'map(.node_id) | sort | .[]' <<<"$j"); do
    for i in $(seq 1 "$TOPO_N"); do
      [ "${TOPO_ID[$i]}" = "$id" ] && { TOPO_POS[$i]=$p; TOPO_RING[$p]=$i; }
    done
    p=$((p + 1))
  done
}
topo_dist() {
  local d=$(( (${TOPO_POS[$2]} - ${TOPO_POS[$1]} + TOPO_N) % TOPO_N ))
  [ $((TOPO_N - d)) -lt "$d" ] && d=$((TOPO_N - d))
  echo "$d"
}
topo_ring_at() { echo "${TOPO_RING[$(( ((${TOPO_POS[$1]} + $2) % TOPO_N + TOPO_N) % TOPO_N ))]}"; }
