# evio-tincan driven by hand over its control socket, the way the node agent
# drives it: for tests and benchmarks of the datapath alone. Needs common.sh.
#
#   tincan_start NODE [CONFIG-JSON-EXTRA]   start evio-tincan in namespace NODE
#   tincan_pair LINK TAP_A TAP_B MTU NODE_A NODE_B   create a link and wait up
#   tctl NODE CMD [JSON]                    evioctl against NODE's tincan (not "tc",
#                                           which is iproute2's traffic control)
#   field NODE LINK JQ-EXPR                 one value of NODE's link/stats
#   ctr, link_up, seq_check, load_start ... checks for the datapath tests (at the end)

tctl() { local n=$1; shift; evctl "$EVT_TMP/$n/run/tincan.sock" "$@"; }

field() { tctl "$1" link/stats "{\"link_id\":\"$2\"}" | jq -r ".links[0].$3"; }
is_state() { [ "$(field "$1" "$2" state)" = "$3" ]; }
gathered() { tctl "$1" link/local "{\"link_id\":\"$2\"}" | jq -e '.gathering_done' >/dev/null; }

# tincan_start NODE [SUFFIX]: sets PID_<NODE>. From the environment:
# TINCAN_ICE, the "ice" object's members (default: no ignored interfaces),
# TINCAN_EXTRA, more top-level members (e.g. '"turn": [...]'), and
# TINCAN_LOG_LEVEL (default debug).
tincan_start() {
  local n=$1 suffix=${2:-} ice=${TINCAN_ICE:-'"ignore_interfaces": []'}
  mkdir -p "$EVT_TMP/$n"
  cat >"$EVT_TMP/$n/config.json" <<JSON
{"node": {"state_dir": "$EVT_TMP/$n/state", "run_dir": "$EVT_TMP/$n/run", "log_level": "${TINCAN_LOG_LEVEL:-debug}"},
 "xmpp": {"host": "127.0.0.1", "user": "$n@evio.test", "password": "x", "tls": "none"},
 "ice": {$ice},
 "overlays": {"lab": {"bridge": {"name": "evbr0", "ip": "10.250.0.1/24"}}}${TINCAN_EXTRA:+, $TINCAN_EXTRA}}
JSON
  bg "$n" "$EVT_TMP/tincan-$n$suffix.log" "$EVT_BUILD/evio-tincan" --config "$EVT_TMP/$n/config.json" >/dev/null
  eval "PID_$n=${EVT_PIDS[-1]}"
  wait_until 5 "$n's control socket" tctl "$n" node/info
}

tincan_fp() { tctl "$1" node/info | jq -r .fingerprint; }

# tincan_create_pair LINK TAP_A TAP_B FP_FOR_A FP_FOR_B [MTU] [A] [B] [MTU_B]: A
# (default "a") is controlling; B's side gets MTU_B (default MTU); exchanges
# candidates and credentials, does not wait.
tincan_create_pair() {
  local link=$1 mtu=${6:-1410} na=${7:-a} nb=${8:-b}
  local mtu_b=${9:-$mtu}
  tctl "$na" link/create "{\"link_id\":\"$link\",\"tap\":\"$2\",\"mtu\":$mtu,\"controlling\":true,\"peer_fingerprint\":\"$4\"}" \
    >"$EVT_TMP/$link-$na.json" || fail "link/create $link on $na"
  tctl "$nb" link/create "{\"link_id\":\"$link\",\"tap\":\"$3\",\"mtu\":$mtu_b,\"controlling\":false,\"peer_fingerprint\":\"$5\"}" \
    >"$EVT_TMP/$link-$nb.json" || fail "link/create $link on $nb"
  wait_until 10 "$na gathers for $link" gathered "$na" "$link"
  wait_until 10 "$nb gathers for $link" gathered "$nb" "$link"
  local la lb
  la=$(tctl "$na" link/local "{\"link_id\":\"$link\"}") || fail "link/local $link on $na"
  lb=$(tctl "$nb" link/local "{\"link_id\":\"$link\"}") || fail "link/local $link on $nb"
  jq -e '.candidates | length > 0' <<<"$la" >/dev/null || fail "$na gathered no candidate for $link"
  jq -e '.candidates | length > 0' <<<"$lb" >/dev/null || fail "$nb gathered no candidate for $link"
  TINCAN_LOCAL_A=$la TINCAN_LOCAL_B=$lb
  # b gets the candidates before the credentials (they must be kept), a
  # gets everything in one request
  tctl "$nb" link/remote "$(jq -c --arg id "$link" '{link_id: $id, candidates: .candidates}' <<<"$la")" >/dev/null \
    || fail "link/remote candidates $link on $nb"
  tctl "$nb" link/remote "$(jq -c --arg id "$link" '{link_id: $id, ufrag: .ufrag, pwd: .pwd}' <<<"$la")" >/dev/null \
    || fail "link/remote credentials $link on $nb"
  tctl "$na" link/remote "$(jq -c --arg id "$link" '{link_id: $id, ufrag: .ufrag, pwd: .pwd, candidates: .candidates, gathering_done: true}' <<<"$lb")" >/dev/null \
    || fail "link/remote $link on $na"
}

# tincan_pair LINK TAP_A TAP_B [MTU] [A] [B]: a link with the right pins, up
# on both ends within 20 s.
tincan_pair() {
  local link=$1 mtu=${4:-1410} na=${5:-a} nb=${6:-b}
  tincan_create_pair "$link" "$2" "$3" "$(tincan_fp "$nb")" "$(tincan_fp "$na")" "$mtu" "$na" "$nb"
  wait_until 20 "$link up on $na" is_state "$na" "$link" up
  wait_until 20 "$link up on $nb" is_state "$nb" "$link" up
}

# ---- checks shared by the datapath tests (tincan_fastpath, tincan_relay) --

# ctr NODE LINK NAME: a counter of NODE's link/stats, 0 if it does not exist
ctr() { field "$1" "$2" "$3 // 0"; }
ctr_ge() { [ "$(ctr "$1" "$2" "$3")" -ge "$4" ]; }

# listening NODE PORT: a TCP listener on PORT in NODE
listening() { ns "$1" ss -Hltn "sport = :$2" | grep -q .; }

# link_up LINK: up on both sides, both daemons (PID_a, PID_b) alive
link_up() {
  kill -0 "$PID_a" 2>/dev/null || fail "a's evio-tincan died"
  kill -0 "$PID_b" 2>/dev/null || fail "b's evio-tincan died"
  is_state a "$1" up || fail "$1 is $(field a "$1" state) on a: $(field a "$1" reason)"
  is_state b "$1" up || fail "$1 is $(field b "$1" state) on b: $(field b "$1" reason)"
}

# seq_check WHAT TX RX [OPTION...]: one framecheck ($FC) seq over every
# length from 60 to $MAXF; fails on corrupt, reordered, duplicate or missing
# frames; leaves its JSON in SEQ
seq_check() {
  local what=$1 tx=$2 rx=$3 rc; shift 3
  SEQ=$("$FC" seq --tx "$tx" --rx "$rx" --min 60 --max "$MAXF" "$@")
  rc=$?
  [ -n "$SEQ" ] || fail "$what: framecheck seq printed nothing"
  log "$what: $(jq -r '"\(.received) frames of \(.sent) sent in \(.seconds) s, \(.received / ([.seconds, 0.001] | max) | floor) frames/s; lost \(.lost), late \(.late)"' <<<"$SEQ")"
  [ "$rc" = 0 ] || fail "$what: $SEQ"
}

# load_start FROM TO IP LINK: iperf3 from FROM to IP (TO's end of LINK) for
# up to 60 s (IPERF_S, IPERF_C); returns once FROM's side of LINK carries it
load_start() {
  local from=$1 to=$2 ip=$3 link=$4 base
  bg "$to" "$EVT_TMP/iperf-server.log" iperf3 -s -B "$ip" -p 5201 >/dev/null
  IPERF_S=${EVT_PIDS[-1]}
  wait_until 5 "iperf3 server listening" listening "$to" 5201
  bg "$from" "$EVT_TMP/iperf-client.log" iperf3 -c "$ip" -p 5201 -t 60 >/dev/null
  IPERF_C=${EVT_PIDS[-1]}
  base=$(ctr "$from" "$link" tx_bytes)
  wait_until 10 "iperf3 traffic over $link" ctr_ge "$from" "$link" tx_bytes $((base + 4000000))
}
