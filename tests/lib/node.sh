# One evio node for the integration tests and the demo (source after
# common.sh and net.sh). Node i lives in namespace "node<i>" (net_up), keeps
# every file under its own DIR, and joins overlay "lab" as 10.250.0.<i>.
#
#   node_config I DIR [relay_only=true] [ca_file=PATH] [tls=none]
#               [successors=N] [long=N]     (the overlay's topology knobs)
#               [shortcut_kbps=N] [shortcut_idle=S]   (on-demand links)
#               [stun=IP:PORT] [turn=none] [turn_password=PW]   (ICE servers;
#               default: srv's coturn as TURN, no separate STUN server)
#               [overlay2=NAME]   (a second overlay, bridge evbr1, 10.251.0.<i>/24)
#   nodes_up N [key=value...]   internet, servers, and nodes 1..N configured
#                           alike and started, each in $(node_dir I)
#   node_dir I              $EVT_TMP/node<I>
#   node_start I DIR        private OVS + evio; waits for the control socket
#   node_kill I DIR         SIGKILL evio and its helpers (a crash; OVS stays)
#   node_stop I DIR         SIGTERM evio, kill leftovers, stop OVS
#   node_status I DIR       evioctl status as JSON (stdout)
#   node_id I, node_links_connected I N   its node ID; whether N links are connected
#   node_wait_link I DIR STATE SECONDS   until the first link has STATE
#   node_wait_xmpp I DIR STATE SECONDS   until xmpp.state is STATE
#   node_assert_direct I DIR   every connected link of node I on a direct pair
#
# NODE_CA_FILE: default ca_file (the test CA); NODE_PID[i]: evio's PID;
# NODES_T0: the time (date +%s%N) nodes_up started the first node.

NODE_PID=()
NODE_OVERLAY=${NODE_OVERLAY:-lab}

node_sock() { echo "$2/run/evio.sock"; }
node_dir() { echo "$EVT_TMP/node$1"; }
node_tincan_sock() { echo "$2/run/tincan.sock"; }

# node_config I DIR [key=value...]: write DIR/config.json for node I.
node_config() {
  local i=$1 d=$2; shift 2
  local relay_only=false ca_file=${NODE_CA_FILE:-} tls=required kv topo='{}'
  local stun= turn=default turn_password=testpw ov2=
  for kv in "$@"; do
    case $kv in
      relay_only=*) relay_only=${kv#*=} ;;
      ca_file=*) ca_file=${kv#*=} ;;
      tls=*) tls=${kv#*=} ;;
      successors=*) topo=$(jq -c --argjson v "${kv#*=}" '. + {min_successors: $v}' <<<"$topo") ;;
      long=*) topo=$(jq -c --argjson v "${kv#*=}" '. + {max_long_distance: $v}' <<<"$topo") ;;
      shortcut_kbps=*) topo=$(jq -c --argjson v "${kv#*=}" '. + {on_demand_threshold_kbps: $v}' <<<"$topo") ;;
      shortcut_idle=*) topo=$(jq -c --argjson v "${kv#*=}" '. + {on_demand_idle_s: $v}' <<<"$topo") ;;
      stun=*) stun=${kv#*=} ;;
      turn=none|turn=default) turn=${kv#*=} ;;
      turn_password=*) turn_password=${kv#*=} ;;
      overlay2=*) ov2=${kv#*=} ;;
      *) fail "node_config: unknown setting $kv" ;;
    esac
  done
  mkdir -p "$d/state" "$d/run" "$d/ovs"
  jq -n --arg d "$d" --arg i "$i" --arg srv "$(net_srv_ip)" --arg ca "$ca_file" \
        --arg tls "$tls" --argjson relay "$relay_only" --arg ov "$NODE_OVERLAY" \
        --argjson topo "$topo" --arg stun "$stun" --arg turn "$turn" \
        --arg turnpw "$turn_password" --arg ov2 "$ov2" '{
    node: {state_dir: "\($d)/state", run_dir: "\($d)/run", log_level: "debug"},
    xmpp: ({host: $srv, port: 5222, user: "node\($i)@evio.test", password: "pw\($i)", tls: $tls}
           + (if $ca != "" then {ca_file: $ca} else {} end)),
    turn: (if $turn == "none" then [] else [{server: "\($srv):3478", user: "test", password: $turnpw}] end),
    stun: (if $stun == "" then [] else [$stun] end),
    ice: {relay_only: $relay},
    ovs: {rundir: "\($d)/ovs", db: "unix:\($d)/ovs/db.sock"},
    overlays: ({($ov): ({bridge: {name: "evbr0", ip: "10.250.0.\($i)/24", mtu: 1410}}
                        + (if $topo == {} then {} else {topology: $topo} end))}
               + (if $ov2 == "" then {} else
                  {($ov2): ({bridge: {name: "evbr1", ip: "10.251.0.\($i)/24", mtu: 1410}}
                            + (if $topo == {} then {} else {topology: $topo} end))} end))
  }' >"$d/config.json" || fail "node_config: cannot write $d/config.json"
}

_node_ovs_running() {
  local d=$1
  [ -f "$d/ovs/ovs-vswitchd.pid" ] && kill -0 "$(cat "$d/ovs/ovs-vswitchd.pid")" 2>/dev/null
}

# node_start I DIR: OVS (unless already running) and evio in namespace node<I>.
node_start() {
  local i=$1 d=$2 n=node$1
  [ -x "$EVT_BUILD/evio" ] || fail "node_start: $EVT_BUILD/evio not built"
  [ -x "$EVT_BUILD/evioctl" ] || fail "node_start: $EVT_BUILD/evioctl not built"
  [ -f "$d/config.json" ] || fail "node_start: no $d/config.json (node_config first)"
  # it holds passwords: evio refuses it readable by others (node.strict_modes)
  chmod 600 "$d/config.json"
  if ! _node_ovs_running "$d"; then
    rm -rf "$d/ovs"
    ovs_start "$n" "$d/ovs"
  fi
  [ -f "$d/evio.log" ] && mv "$d/evio.log" "$d/evio.log.$(date +%s%N)"
  bg "$n" "$d/evio.log" "$EVT_BUILD/evio" --config "$d/config.json" >/dev/null
  NODE_PID[$i]=${EVT_PIDS[-1]}
  local pid=${NODE_PID[$i]} end=$(( $(date +%s%N) + 20000000000 ))
  until evctl "$(node_sock "$i" "$d")" status >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$d/evio.log" >&2; fail "node$i: evio (pid $pid) exited during start"; }
    [ "$(date +%s%N)" -lt "$end" ] || { tail -n 30 "$d/evio.log" >&2; fail "node$i: evio control socket did not answer in 20s"; }
    sleep 0.1
  done
  log "node$i: evio up (pid $pid, $(node_status "$i" "$d" | jq -r '.node_id // "?"'))"
}

# node_status I DIR: the agent's status as JSON.
node_status() {
  evctl "$(node_sock "$1" "$2")" --json status
}

# node_helper_pid I DIR NAME: PID of helper NAME (evio-tincan, evio-switchctl) from status.
node_helper_pid() {
  node_status "$1" "$2" | jq -er --arg n "$3" '.helpers[] | select(.name == $n) | .pid'
}

# node_id I: node I's ID, from status (node I in $(node_dir I)).
node_id() { node_status "$1" "$(node_dir "$1")" | jq -er .node_id; }

# node_links_connected I N: node I (in $(node_dir I)) has N connected links
# in its first overlay.
node_links_connected() {
  [ "$(node_status "$1" "$(node_dir "$1")" | jq '[.overlays[0].links[] | select(.state == "connected")] | length')" = "$2" ]
}

# node_link I DIR [FIELD]: the first link of the first overlay (or one field of it).
node_link() {
  node_status "$1" "$2" | jq -e -r ".overlays[0].links[0]${3:+.$3}"
}

_node_link_is() { [ "$(node_link "$1" "$2" state 2>/dev/null)" = "$3" ]; }
_node_link_is_not() { [ "$(node_link "$1" "$2" state 2>/dev/null)" != "$3" ]; }

# node_wait_link I DIR STATE SECONDS
node_wait_link() {
  wait_until "$4" "node$1's first link to be $3 (last: $(node_link "$1" "$2" state 2>/dev/null || echo none))" \
    _node_link_is "$1" "$2" "$3"
}
# node_wait_link_not I DIR STATE SECONDS: until the first link is gone or not STATE.
node_wait_link_not() {
  wait_until "$4" "node$1's first link to leave state $3" _node_link_is_not "$1" "$2" "$3"
}

# node_assert_direct I DIR: fails unless every connected link of node I has
# a selected pair without a TURN relay at either end (the home-router NATs of
# net.sh let two nodes punch through; a relay there is a regression).
node_assert_direct() {
  local links
  links=$(node_status "$1" "$2" | jq -c '[.overlays[].links[] | select(.state == "connected")
          | {peer: .peer[0:12], pair: "\(.local_type)/\(.remote_type)"}]') \
    || fail "node$1: no status"
  [ "$(jq length <<<"$links")" -gt 0 ] || fail "node$1: no connected link to check"
  jq -e 'all(.[]; .pair | test("relay") | not)' <<<"$links" >/dev/null \
    || fail "node$1: relayed where a direct pair exists: $links"
  log "node$1: direct pairs: $(jq -r 'map("\(.peer) \(.pair)") | join(", ")' <<<"$links")"
}

_node_xmpp_is() { [ "$(node_status "$1" "$2" 2>/dev/null | jq -r .xmpp.state)" = "$3" ]; }
# node_wait_xmpp I DIR STATE SECONDS
node_wait_xmpp() {
  wait_until "$4" "node$1's xmpp state to be $3" _node_xmpp_is "$1" "$2" "$3"
}

# _node_children PID: PIDs of PID's descendants.
_node_children() {
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$c"; _node_children "$c"
  done
}

# node_kill I DIR: SIGKILL evio and all its descendants (a crash).
node_kill() {
  local i=$1 pid=${NODE_PID[$1]:-} pids
  [ -n "$pid" ] || return 0
  pids="$pid $(_node_children "$pid")"
  kill -9 $pids 2>/dev/null || true
  { kill_wait $pids || true; } 2>/dev/null   # (quiet: no "Killed" job notice)
  NODE_PID[$i]=
}

# node_stop I DIR: stop evio (SIGTERM, it stops its helpers), then OVS.
node_stop() {
  local i=$1 d=$2 pid=${NODE_PID[$1]:-} kids
  if [ -n "$pid" ]; then
    kids=$(_node_children "$pid")
    kill_wait "$pid" || true
    [ -n "$kids" ] && { kill_wait $kids || true; }
    NODE_PID[$i]=
  fi
  ovs_stop "node$i" "$d/ovs" || true
}

# node_servers N: in namespace srv, prosody (STARTTLS required, certificate
# from a test CA in $EVT_TMP/ca, accounts node1..nodeN with passwords pw1..)
# and coturn; sets NODE_CA_FILE to the test CA. Needs tests/lib/prosody.sh.
node_servers() {
  local n=$1 i srv
  srv=$(net_srv_ip)
  declare -F prosody_start >/dev/null || fail "node_servers: tests/lib/prosody.sh not sourced"
  prosody_ca "$EVT_TMP/ca" || fail "prosody_ca failed"
  prosody_start srv "$EVT_TMP/prosody" "$srv" "$EVT_TMP/ca" || fail "prosody_start failed"
  for i in $(seq 1 "$n"); do
    prosody_user srv "$EVT_TMP/prosody" "node$i" "pw$i" || fail "prosody_user node$i failed"
  done
  coturn_start srv "$EVT_TMP/coturn" "$srv"
  NODE_CA_FILE=$EVT_TMP/ca/ca.crt
}

# node_wait_ping I IP SECONDS: until node I's namespace reaches IP. A link is
# "connected" as soon as the datapath is up; its port joins the node's switch
# a moment later (port/sync), so the first frames may still be lost.
node_wait_ping() {
  wait_until "$3" "node$1 to reach $2 over the overlay" ns "node$1" ping -c 1 -W 1 "$2"
}

# nodes_up N [key=value...]: net_up N, node_servers N, then nodes 1..N
# configured with the same settings (node_config's) and started.
nodes_up() {
  local n=$1 i; shift
  net_up "$n"
  node_servers "$n"
  for i in $(seq 1 "$n"); do node_config "$i" "$(node_dir "$i")" "$@"; done
  NODES_T0=$(date +%s%N)
  for i in $(seq 1 "$n"); do node_start "$i" "$(node_dir "$i")"; done
}
