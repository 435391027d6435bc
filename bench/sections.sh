# The four benchmark sections and the summary (sourced by bench/run.sh).

# ---- 1. link: one tunnel, every peer --------------------------------------

bench_section_link() {
  local peers=$1 run p
  log "== link: one tunnel between two namespaces, $peers"
  bench_topology
  for run in $(seq "$runs"); do
    for p in $peers; do
      source "$top/bench/peers/$p.sh"
      [ "$run" = 1 ] && bench_record version "$p" 0 version "\"$(peer_version)\""
      log "link: $p, run $run"
      # in a subshell, so a peer that fails (fail exits) ends only its turn
      ( peer_up >"$EVT_TMP/up-$p.log" 2>&1 || exit 1
        bench_iperf_server
        bench_link_measure "$p" "$run" "$secs" || log "link: $p: a measurement failed"
        bench_iperf_server_stop
        peer_down >/dev/null 2>&1 ) \
        || log "link: $p failed: $(tail -n 3 "$EVT_TMP/up-$p.log" | tr '\n' ' ')"
      bench_reset
    done
  done
  bench_topology_down
}


# ---- 2. node path: host -> OVS -> tincan -> tincan -> OVS -> host ---------

# Each namespace gets a private OVS (userspace datapath, as evio runs it) with
# a learning bridge (brv, then brt) whose local port is the host (10.68.0.x). The two
# bridges are joined either by a plain veth (the switch's own cost) or by a
# tincan link (what a node really does).
BENCH_NODE_A=10.68.0.1 BENCH_NODE_B=10.68.0.2

_bench_vsctl() { local n=$1; shift; ns "$n" ovs-vsctl --db=unix:"$EVT_TMP/ovs-$n/db.sock" "$@"; }

bench_section_node() {
  log "== node: host to host through OVS bridges, joined by a veth or by tincan"
  bench_topology
  local n
  for n in a b; do ovs_start "$n" "$EVT_TMP/ovs-$n"; done
  local vs="$(cat "$EVT_TMP/ovs-a/ovs-vswitchd.pid") $(cat "$EVT_TMP/ovs-b/ovs-vswitchd.pid")"
  local run
  for run in $(seq "$runs"); do
    # ovs+veth
    _bench_node_bridges brv
    ip -n "${EVT_PREFIX}a" link add pa type veth peer name pb netns "${EVT_PREFIX}b"
    ns a ip link set pa mtu "$BENCH_MTU" up && ns b ip link set pb mtu "$BENCH_MTU" up
    ns a ethtool -K pa tx off >/dev/null && ns b ethtool -K pb tx off >/dev/null
    _bench_vsctl a add-port brv pa && _bench_vsctl b add-port brv pb
    BENCH_CPU_PARTS=([ovs]="$vs")
    _bench_node_measure ovs+veth "$run" "$vs"
    _bench_vsctl a del-port brv pa; _bench_vsctl b del-port brv pb
    ns a ip link del pa 2>/dev/null
    # ovs+tincan, on new bridges: nothing learnt about the veth's port stays
    _bench_node_bridges brt
    # ICE must not gather on the bridges the tunnel itself feeds
    ( TINCAN_ICE='"ignore_interfaces": ["brv", "brt"]' bench_tincans_up node bn evn0 "$BENCH_MTU"
      _bench_vsctl a add-port brt evn0 && _bench_vsctl b add-port brt evn0
      BENCH_CPU_PARTS=([ovs]="$vs" [tincan]="$PID_a $PID_b")
      _bench_node_measure ovs+tincan "$run" "$vs $PID_a $PID_b"
      _bench_vsctl a del-port brt evn0; _bench_vsctl b del-port brt evn0
      bench_tincans_down ) \
      || log "node: ovs+tincan run $run failed"
  done
  BENCH_CPU_PARTS=()
  for n in a b; do ovs_stop "$n" "$EVT_TMP/ovs-$n"; done
  bench_topology_down
}

# _bench_node_bridges NAME: a new learning bridge NAME in a and in b (every
# other bridge deleted first, so nothing learnt before stays), the host's
# address on its local port
_bench_node_bridges() {
  local n br=$1 old
  for n in a b; do
    for old in $(_bench_vsctl "$n" list-br); do
      _bench_vsctl "$n" del-br "$old" || fail "cannot delete bridge $old in $n"
    done
    _bench_vsctl "$n" add-br "$br" -- set bridge "$br" datapath_type=netdev fail_mode=standalone \
      || fail "cannot add bridge $br in $n"
  done
  wait_until 5 "bridge $br's port in a" ns a ip link show "$br"
  wait_until 5 "bridge $br's port in b" ns b ip link show "$br"
  ns a ip addr add "$BENCH_NODE_A/24" dev "$br" && ns a ip link set "$br" mtu "$BENCH_MTU" up
  ns b ip addr add "$BENCH_NODE_B/24" dev "$br" && ns b ip link set "$br" mtu "$BENCH_MTU" up
}

# _bench_node_measure NAME RUN PIDS: TCP and RTT host to host
_bench_node_measure() {
  local rec="bench_record node $1 $2" pids=$3
  BENCH_DST=$BENCH_NODE_B
  wait_until 20 "$1: a host-to-host ping" ns a ping -c 1 -W 1 "$BENCH_DST"
  bench_iperf_server
  bench_rtt "$rec" rtt_idle 100
  bench_tcp1 "$rec" "$secs" $pids
  bench_tcp4 "$rec" "$secs"
  bench_iperf_server_stop
  BENCH_DST=
}

# ---- 3. relay: tincan through coturn against the direct path ---------------

# a, b and the TURN server's namespace s hang off one bridge in s. "direct"
# is the host/host pair across it; "relay" makes a relay-only (its only
# candidate is a TURN allocation on s), so every frame goes a -> coturn -> b.
bench_section_relay() {
  log "== relay: one tincan link, direct against through coturn"
  ns_add s
  ns s ip link add br0 type bridge && ns s ip addr add 10.66.0.3/24 dev br0 && ns s ip link set br0 up
  local n
  ns_add a b
  for n in a b; do
    ip -n "${EVT_PREFIX}s" link add "s$n" type veth peer name "v$n" netns "$EVT_PREFIX$n"
    ns s ip link set "s$n" master br0 up
  done
  ns a ip addr add "$BENCH_UNDER_A/24" dev va && ns a ip link set va up
  ns b ip addr add "$BENCH_UNDER_B/24" dev vb && ns b ip link set vb up
  coturn_start s "$EVT_TMP/coturn" 10.66.0.3
  local turn='"turn": [{"server": "10.66.0.3:3478", "user": "'$COTURN_USER'", "password": "'$COTURN_PASSWORD'"}]'
  local run mode
  for run in $(seq "$runs"); do
    for mode in direct relay; do
      ( source "$top/tests/lib/tincan.sh"
        ice='"ignore_interfaces": []'
        [ "$mode" = relay ] && ice="$ice, \"relay_only\": true"
        TINCAN_LOG_LEVEL=warn TINCAN_EXTRA=$turn TINCAN_ICE=$ice tincan_start a -relay
        TINCAN_LOG_LEVEL=warn TINCAN_EXTRA=$turn tincan_start b -relay
        tincan_pair br evr0 evr0 "$BENCH_MTU"
        [ "$(field a br local_type)" = "$( [ "$mode" = relay ] && echo relay || echo host)" ] \
          || fail "relay bench: $mode link's pair is $(field a br local_type)/$(field a br remote_type)"
        ns a ip addr add "$BENCH_INNER_A/24" dev evr0
        ns b ip addr add "$BENCH_INNER_B/24" dev evr0
        bench_wait_inner 10
        bench_iperf_server
        bench_rtt "bench_record relay $mode $run" rtt_idle 100
        BENCH_CPU_PARTS=([coturn]="$COTURN_PID")
        bench_tcp1 "bench_record relay $mode $run" "$secs" "$PID_a" "$PID_b"
        bench_iperf_server_stop
        bench_tincans_down ) \
        || log "relay: $mode run $run failed"
    done
  done
  coturn_stop
  for n in a b s; do ip netns del "$EVT_PREFIX$n" 2>/dev/null; done
  EVT_NETNS=()
}

# ---- 4. scale: one evio-tincan with many idle links -----------------------

BENCH_SCALE_LINKS=${BENCH_SCALE_LINKS:-1 16 64}
BENCH_SCALE_SETTLE=${BENCH_SCALE_SETTLE:-6}

bench_section_scale() {
  log "== scale: evio-tincan's memory and idle CPU with $BENCH_SCALE_LINKS links"
  bench_topology
  local count window=$(( secs < 10 ? secs : 10 ))
  for count in $BENCH_SCALE_LINKS; do
    ( bench_tincans_up scale
      local i
      for i in $(seq "$count"); do
        tincan_create_pair "s$i" "evs$i" "evs$i" "$(tincan_fp b)" "$(tincan_fp a)" "$BENCH_MTU"
      done
      for i in $(seq "$count"); do
        wait_until 30 "link s$i up" is_state a "s$i" up
      done
      # libnice keeps a 20 ms check timer for 5 s after a pair succeeds
      # (then "stopping conncheck timer" in its debug log); idle means after
      sleep "$BENCH_SCALE_SETTLE"
      local t0 t1 w0 w1
      t0=$(bench_cpu_ticks "$PID_a") w0=$(bench_wakeups "$PID_a")
      sleep "$window"   # the measuring interval itself, not a wait for a state
      t1=$(bench_cpu_ticks "$PID_a") w1=$(bench_wakeups "$PID_a")
      bench_record scale "links=$count" 1 rss_kb "$(bench_rss_kb "$PID_a")"
      bench_record scale "links=$count" 1 pss_kb "$(bench_smaps_kb Pss "$PID_a")"
      bench_record scale "links=$count" 1 uss_kb \
        "$(( $(bench_smaps_kb Private_Clean "$PID_a") + $(bench_smaps_kb Private_Dirty "$PID_a") ))"
      bench_record scale "links=$count" 1 anon_kb "$(bench_smaps_kb Anonymous "$PID_a")"
      bench_record scale "links=$count" 1 idle_cpu_pct \
        "$(awk -v t=$((t1 - t0)) -v hz="$BENCH_HZ" -v w="$window" 'BEGIN { printf "%.3f", 100 * t / hz / w }')"
      bench_record scale "links=$count" 1 wakeups_per_s \
        "$(awk -v n=$((w1 - w0)) -v w="$window" 'BEGIN { printf "%.1f", n / w }')"
      bench_tincans_down ) \
      || log "scale: $count links failed"
    bench_reset
  done
  bench_topology_down
}

# ---- summary ------------------------------------------------------------

# bench_summarize RAW BASE: medians of RAW into BASE.csv and BASE.json, and
# the tables on stdout
bench_summarize() {
  local raw=$1 base=$2
  awk -F'\t' '$1 != "meta" && $1 != "version" { k = $1 "," $2 "," $4; v[k] = v[k] " " $5; n[k]++ }
    END { for (k in v) print k "\t" n[k] "\t" v[k] }' "$raw" | sort |
  while IFS=$'\t' read -r key count values; do
    printf '%s,%s,%s\n' "$key" "$(tr ' ' '\n' <<<"$values" | grep . | bench_median)" "$count"
  done >"$base.body"
  { echo "section,subject,metric,median,runs"; cat "$base.body"; } >"$base.csv"
  rm -f "$base.body"
  jq -R -s --rawfile raw "$raw" '
    ($raw | split("\n") | map(split("\t")) | map(select(length == 5))) as $r
    | { machine: { cpu: ($r[] | select(.[0] == "meta" and .[3] == "cpu") | .[4] | fromjson),
                   cores: ($r[] | select(.[0] == "meta" and .[3] == "cores") | .[4] | tonumber) },
        versions: ([$r[] | select(.[0] == "version") | { key: .[1], value: (.[4] | fromjson) }] | from_entries),
        medians: (split("\n")[1:] | map(select(length > 0) | split(","))
                  | map({ section: .[0], subject: .[1], metric: .[2],
                          median: (.[3] | tonumber? // null), runs: (.[4] | tonumber) })) }' \
    "$base.csv" >"$base.json"
  bench_tables "$base.csv"
}

# bench_tables CSV: one table per section, subjects as rows, metrics as
# columns; the link section also as ratios to the raw veth and to evio
bench_tables() {
  local csv=$1 sec
  for sec in $(awk -F, 'NR > 1 { print $1 }' "$csv" | sort -u); do
    echo
    echo "== $sec (medians)"
    _bench_table "$csv" "$sec" ""
    if [ "$sec" = link ]; then
      grep -q '^link,veth,' "$csv" && { echo; echo "== link: ratio to the raw veth"; _bench_table "$csv" "$sec" veth; }
      grep -q '^link,evio-tincan,' "$csv" && { echo; echo "== link: ratio to evio-tincan"; _bench_table "$csv" "$sec" evio-tincan; }
    fi
  done
}

# _bench_table CSV SECTION [REF]: values, or value / REF's value
_bench_table() {
  awk -F, -v sec="$2" -v ref="$3" '
    NR > 1 && $1 == sec {
      if (!($2 in seen)) { seen[$2] = 1; subj[++ns] = $2 }
      if (!($3 in seenm)) { seenm[$3] = 1; met[++nm] = $3 }
      v[$2 "," $3] = $4
    }
    END {
      printf "%-16s", "";
      for (j = 1; j <= nm; j++) printf " %15s", met[j]; printf "\n";
      for (i = 1; i <= ns; i++) {
        printf "%-16s", subj[i];
        for (j = 1; j <= nm; j++) {
          x = v[subj[i] "," met[j]];
          if (ref != "") {
            r = v[ref "," met[j]];
            if (x == "" || x == "nan" || r == "" || r == "nan" || r + 0 == 0) printf " %15s", "-";
            else printf " %15.2f", x / r;
          } else if (x == "" || x == "nan") printf " %15s", "-";
          else printf " %15.4g", x;
        }
        printf "\n";
      }
    }' "$1"
}
