# Flannel's data plane over evio, set up exactly as flanneld and its CNI
# delegate do it (flanneld, kubelet and k3s are not in Debian 12), for
# integration/flannel_vxlan and integration/flannel_hostgw. Source after
# e2e.sh. Node I (namespace node<I>, evio bridge evbr0 10.250.0.<I>/24)
# leases pod subnet 10.244.<I>.0/24 of Flannel's Network 10.244.0.0/16; its
# pod lives in namespace pod<I>, eth0 10.244.<I>.2 (host-local's first).
#
#   flannel_vxlan_up I MTU     flannel.1 as flanneld's vxlan backend makes it
#   flannel_vxlan_peer I J     node I's neighbour, FDB entry and route for J
#   flannel_hostgw_peer I J    node I's route to J's pods via J's bridge address
#   flannel_pod I MTU          pod<I> by the CNI bridge + host-local plugins
#                              with the delegate config Flannel's CNI plugin writes
#   flannel_counters_up I      nftables counters in node I: VXLAN and pod
#                              packets on evbr0 and on the underlay (eth0)
#   flannel_counter I NAME     one counter's packets
#   flannel_candidates I       every ICE candidate of node I's links (one per line)

FLANNEL_NET=10.244.0.0/16
FLANNEL_VNI=1
FLANNEL_PORT=8472   # flanneld's default on Linux (not IANA's 4789)
CNI_BIN=${CNI_BIN:-/usr/lib/cni}

flannel_pod_ip() { echo "10.244.$1.2"; }

flannel_vxlan_up() {
  local i=$1 mtu=$2
  # flanneld: type vxlan, VNI 1, local = the public IP of the chosen iface,
  # dev = that iface, learning off (it programs neighbours itself), port 8472
  ns "node$i" ip link add flannel.1 type vxlan id $FLANNEL_VNI local "10.250.0.$i" dev evbr0 \
    dstport $FLANNEL_PORT nolearning || fail "node$i: cannot create flannel.1 over evbr0"
  ns "node$i" ip link set flannel.1 mtu "$mtu"
  ns "node$i" ip addr add "10.244.$i.0/32" dev flannel.1
  ns "node$i" ip link set flannel.1 up
}

flannel_vxlan_peer() {
  local i=$1 j=$2 mac
  mac=$(ns "node$j" cat /sys/class/net/flannel.1/address) || fail "node$j has no flannel.1"
  # what flanneld does for each lease it watches (its node annotation
  # carries the peer's VTEP MAC and public IP)
  ns "node$i" ip neigh replace "10.244.$j.0" lladdr "$mac" dev flannel.1 nud permanent \
    || fail "node$i: neighbour for node$j"
  ns "node$i" bridge fdb replace "$mac" dev flannel.1 dst "10.250.0.$j" self permanent \
    || fail "node$i: FDB entry for node$j"
  ns "node$i" ip route replace "10.244.$j.0/24" via "10.244.$j.0" dev flannel.1 onlink \
    || fail "node$i: route to node$j's pods"
}

flannel_hostgw_peer() {
  local i=$1 j=$2
  ns "node$i" ip route replace "10.244.$j.0/24" via "10.250.0.$j" dev evbr0 \
    || fail "node$i: host-gw route to node$j's pods"
}

flannel_pod() {
  local i=$1 mtu=$2
  [ -x "$CNI_BIN/bridge" ] && [ -x "$CNI_BIN/host-local" ] \
    || fail "the CNI plugins are not installed in $CNI_BIN (containernetworking-plugins; scripts/deps.sh)"
  ns_add "pod$i"
  # the delegate Flannel's CNI plugin hands to "bridge" (from subnet.env:
  # FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ=true so ipMasq false here)
  jq -n --arg sub "10.244.$i.0/24" --argjson mtu "$mtu" --arg net "$FLANNEL_NET" \
        --arg dir "$EVT_TMP/cni-node$i" '{
    cniVersion: "0.3.1", name: "cbr0", type: "bridge", bridge: "cni0",
    mtu: $mtu, ipMasq: false, isGateway: true, isDefaultGateway: true, hairpinMode: true,
    ipam: {type: "host-local", ranges: [[{subnet: $sub}]], routes: [{dst: $net}], dataDir: $dir}
  }' >"$EVT_TMP/cni-node$i.json"
  ns "node$i" env CNI_COMMAND=ADD CNI_CONTAINERID="pod$i-$$" \
    CNI_NETNS="/run/netns/${EVT_PREFIX}pod$i" CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN" \
    "$CNI_BIN/bridge" <"$EVT_TMP/cni-node$i.json" >"$EVT_TMP/cni-node$i.out" 2>&1 \
    || fail "node$i: the CNI bridge plugin failed: $(cat "$EVT_TMP/cni-node$i.out")"
  local ip
  ip=$(jq -r '.ips[0].address' "$EVT_TMP/cni-node$i.out")
  [ "$ip" = "$(flannel_pod_ip "$i")/24" ] || fail "pod$i got $ip, expected $(flannel_pod_ip "$i")/24"
  [ "$(ns "pod$i" cat /sys/class/net/eth0/mtu)" = "$mtu" ] || fail "pod$i: eth0 mtu is not $mtu"
}

flannel_counters_up() {
  ns "node$1" nft -f - <<NFT || fail "node$1: nftables counters"
table inet flcount {
  counter vx_bridge {}
  counter vx_underlay {}
  counter pods_underlay {}
  counter pods_bridge {}
  chain local_out {
    type filter hook output priority 0; policy accept;
    oifname "evbr0" udp dport $FLANNEL_PORT counter name vx_bridge
    oifname "eth0" udp dport $FLANNEL_PORT counter name vx_underlay
  }
  chain pods {
    type filter hook forward priority 0; policy accept;
    oifname "evbr0" ip saddr $FLANNEL_NET counter name pods_bridge
    oifname "eth0" ip saddr $FLANNEL_NET counter name pods_underlay
    oifname "eth0" ip daddr $FLANNEL_NET counter name pods_underlay
  }
}
NFT
}

flannel_counter() {
  ns "node$1" nft -j list counter inet flcount "$2" | jq '.nftables[] | select(.counter) | .counter.packets'
}

flannel_candidates() {
  local i=$1 d id
  d=$(node_dir "$i")
  for id in $(node_status "$i" "$d" | jq -r '.overlays[].links[] | select(.link_id != null) | .link_id'); do
    evctl "$(node_tincan_sock "$i" "$d")" link/local "{\"link_id\":\"$id\"}" 2>/dev/null \
      | jq -r '.candidates[]?'
  done
}

# _ifindex I IF: IF's interface index in node I, or "gone"
_ifindex() { ns "node$1" cat "/sys/class/net/$2/ifindex" 2>/dev/null || echo gone; }
# _indexes BACKEND: "evbr0/flannel.1" interface indexes of nodes 1..3
# (flannel.1 as "-" for host-gw)
_indexes() {
  local i
  for i in 1 2 3; do
    printf '%s/%s ' "$(_ifindex "$i" evbr0)" "$( [ "$1" = vxlan ] && _ifindex "$i" flannel.1 || echo -)"
  done
}

# _pods_reach: every pod pings every other pod once
_pods_reach() {
  local i j
  for i in 1 2 3; do
    for j in 1 2 3; do
      [ "$i" = "$j" ] || ns "pod$i" ping -c 1 -W 1 "$(flannel_pod_ip "$j")" >/dev/null || return 1
    done
  done
}

# _median_rtt NS IP: median RTT in ms of 21 pings
_median_rtt() {
  ns "$1" ping -c 21 -i 0.05 -W 2 "$2" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n | sed -n 11p
}
# _listening NS PORT: a TCP socket listens on PORT in namespace NS
_listening() { ns "$1" ss -Hltn "sport = :$2" | grep -q .; }
# _iperf NS_CLIENT NS_SERVER IP: TCP throughput in Mbit/s over 3 s
_iperf() {
  bg "$2" "$EVT_TMP/iperf-$2.log" iperf3 -s -1 -B "$3" >/dev/null
  local pid=${EVT_PIDS[-1]}
  wait_until 10 "iperf3 listening in $2" _listening "$2" 5201
  ns "$1" iperf3 -c "$3" -t 3 -J | jq '.end.sum_received.bits_per_second / 1e6 | floor'
  wait "$pid" 2>/dev/null || true
}

# flannel_run BACKEND: the whole test, BACKEND vxlan or host-gw.
#  1. three evio nodes behind three home NATs; Flannel's data plane on each
#     (flannel.1 or host-gw routes) and one pod made by the CNI plugins;
#  2. pod to pod across nodes: ping, 1 MB over TCP intact both ways, a DF
#     ping at the pod MTU passes and one byte more is refused;
#  3. the pods' packets (VXLAN or routed) leave on evio's bridge, never on
#     the underlay (nftables counters);
#  4. evio restarted three ways (SIGTERM; kill -9; kill -9 with a config
#     whose ice.ignore_interfaces lists only cni0): the bridge and flannel.1
#     keep their interface indexes, pods reach each other again, and no ICE
#     candidate of any link made afterwards carries a pod, flannel or
#     overlay address (node3's flannel.1 is skipped only because it rides
#     on evbr0);
#  5. figures for the record: pod-to-pod RTT and TCP throughput against
#     node to node over the bridge.
flannel_run() {
  local backend=$1 br_mtu=1410 pod_mtu i j
  case $backend in
    vxlan) pod_mtu=$((br_mtu - 50)) ;;   # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
    host-gw) pod_mtu=$br_mtu ;;
    *) fail "flannel_run: unknown backend $backend" ;;
  esac
  for t in nft jq iperf3 bridge; do command -v $t >/dev/null || fail "$t is not installed (scripts/deps.sh)"; done

  nodes_up 3
  for i in 1 2 3; do
    for j in 1 2 3; do
      [ "$i" = "$j" ] || node_wait_ping "$i" "10.250.0.$j" 60
    done
  done
  log "overlay up: three nodes behind three NATs reach each other on evbr0 (mtu $br_mtu)"

  for i in 1 2 3; do
    [ "$backend" = vxlan ] && flannel_vxlan_up "$i" "$pod_mtu"
    flannel_pod "$i" "$pod_mtu"
    flannel_counters_up "$i"
  done
  for i in 1 2 3; do
    for j in 1 2 3; do
      [ "$i" = "$j" ] && continue
      if [ "$backend" = vxlan ]; then flannel_vxlan_peer "$i" "$j"; else flannel_hostgw_peer "$i" "$j"; fi
    done
  done
  log "flannel ($backend): pods 10.244.{1,2,3}.2, pod mtu $pod_mtu"

  # 2. pod to pod
  wait_until 30 "every pod to reach every other pod" _pods_reach
  l4_echo_start pod2 "$(flannel_pod_ip 2)" 7000
  l4_echo_start pod1 "$(flannel_pod_ip 1)" 7000
  l4_echo_check pod1 "$(flannel_pod_ip 2)" 7000 || fail "pod1 -> pod2: TCP/UDP (see above)"
  l4_echo_check pod3 "$(flannel_pod_ip 1)" 7000 || fail "pod3 -> pod1: TCP/UDP (see above)"
  ns pod1 ping -M do -s $((pod_mtu - 28)) -c 1 -W 2 "$(flannel_pod_ip 3)" >/dev/null \
    || fail "pod1 -> pod3: a $pod_mtu-byte packet with DF did not pass"
  local out
  if out=$(ns pod1 ping -M do -s $((pod_mtu - 27)) -c 1 -W 2 "$(flannel_pod_ip 3)" 2>&1); then
    fail "pod1 -> pod3: a $((pod_mtu + 1))-byte packet with DF passed (pod mtu $pod_mtu)"
  fi
  log "pods: ping all pairs; 1 MB echoed intact pod1<->pod2 and pod3<->pod1; DF $pod_mtu bytes pass, $((pod_mtu + 1)) refused ($(grep -o -m1 -i 'message too long.*' <<<"$out" || tail -n1 <<<"$out"))"

  # 3. where the packets went
  local on_bridge under=0
  if [ "$backend" = vxlan ]; then on_bridge=$(flannel_counter 1 vx_bridge); else on_bridge=$(flannel_counter 1 pods_bridge); fi
  for i in 1 2 3; do
    under=$((under + $(flannel_counter "$i" vx_underlay) + $(flannel_counter "$i" pods_underlay)))
  done
  [ "$on_bridge" -gt 0 ] || fail "node1 sent no pod traffic on evbr0 (counter 0): the test did not look"
  [ "$under" = 0 ] || fail "$under VXLAN or pod packets went out on an underlay eth0"
  log "node1 sent $on_bridge $backend packets on evbr0; 0 VXLAN or pod packets on any node's underlay"

  # 4. evio restarted under Flannel
  local before after
  before=$(_indexes "$backend")
  local pid=${NODE_PID[1]} kids
  kids=$(_node_children "$pid")
  kill_wait "$pid"; [ -n "$kids" ] && kill_wait $kids
  NODE_PID[1]=
  node_kill 2
  node_kill 3
  jq '.ice.ignore_interfaces = ["cni0"]' "$(node_dir 3)/config.json" >"$(node_dir 3)/config.json.new" \
    && mv "$(node_dir 3)/config.json.new" "$(node_dir 3)/config.json"
  after=$(_indexes "$backend")
  [ "$before" = "$after" ] \
    || fail "evio's exit changed the bridge or flannel.1 (ifindex evbr0/flannel.1 per node): $before -> $after"
  for i in 1 2 3; do node_start "$i" "$(node_dir "$i")"; done
  t0=$(date +%s%N)
  wait_until 90 "every pod to reach every other pod after evio restarted" _pods_reach
  local back_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  after=$(_indexes "$backend")
  [ "$before" = "$after" ] \
    || fail "evio's restart recreated the bridge or flannel.1 (ifindex evbr0/flannel.1 per node): $before -> $after"
  l4_echo_check pod1 "$(flannel_pod_ip 2)" 7000 || fail "pod1 -> pod2 after the restarts: TCP/UDP (see above)"
  log "evio stopped (node1 SIGTERM, node2 and node3 kill -9) and started: evbr0/flannel.1 ifindexes unchanged ($after); pods reach each other $back_ms ms after the starts, 1 MB echoed intact"

  # candidates of the links made after the restart, with Flannel in place
  local c n=0 bad=
  for i in 1 2 3; do
    c=$(flannel_candidates "$i")
    n=$((n + $(grep -c . <<<"$c" || true)))
    bad+=$(grep -E ' (10\.244\.|10\.250\.0\.)' <<<"$c" | sed "s/^/node$i: /" || true)
  done
  [ "$n" -gt 0 ] || fail "no ICE candidates listed on any node: nothing was checked"
  [ -z "$bad" ] || fail "ICE candidates on pod, flannel or overlay addresses: $bad"
  log "$n ICE candidates of the new links on 3 nodes, none on a pod, flannel.1 or evbr0 address$( [ "$backend" = vxlan ] && echo " (node3 ignores only cni0: its flannel.1 is skipped as riding on evbr0)")"
  grep -h "not gathering on" "$(node_dir 3)"/evio.log 2>/dev/null | sort -u | head -n 3 | sed 's/^/    /' || true

  # 5. figures
  local rtt_pod rtt_node tp_pod tp_node
  rtt_node=$(_median_rtt node1 10.250.0.2)
  rtt_pod=$(_median_rtt pod1 "$(flannel_pod_ip 2)")
  tp_node=$(_iperf node1 node2 10.250.0.2)
  tp_pod=$(_iperf pod1 pod2 "$(flannel_pod_ip 2)")
  log "figures ($backend): median RTT node1->node2 $rtt_node ms, pod1->pod2 $rtt_pod ms;" \
      "TCP node1->node2 $tp_node Mbit/s, pod1->pod2 $tp_pod Mbit/s (iperf3 -t 3, one run)"
}
