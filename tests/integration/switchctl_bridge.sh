#!/bin/bash
# evio-switchctl on one node with one link: bridge setup over OVSDB, learning
# and flooding over OpenFlow 1.3, TCP and UDP with both ends keeping their
# default checksum offload, takeover after a crash, port removal.
#
#   namespace h (stands in for the remote peer)    namespace n (the node)
#   +-----------------+        veth         +-------------------------------+
#   | hv0 10.20.0.2/24 |--------------------| tp0 -- [OVS bridge evbr0,     |
#   +-----------------+                     |        netdev datapath]       |
#                                           |        evbr0 (internal port)  |
#                                           |        10.20.0.1/24 mtu 1410  |
#                                           |  evio-switchctl: controller   |
#                                           +-------------------------------+
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
evt_init

SWITCHCTL=$EVT_BUILD/evio-switchctl
[ -x "$SWITCHCTL" ] || fail "$SWITCHCTL not built"
[ -x "$EVT_BUILD/evioctl" ] || fail "$EVT_BUILD/evioctl not built"
for t in ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl tcpdump ethtool jq; do
  command -v $t >/dev/null || fail "$t is not installed"
done

OVS=$EVT_TMP/ovs
RUN=$EVT_TMP/run
SOCK=$RUN/switchctl.sock
PEER=0123456789abcdef0123456789abcdef
vsctl() { ns n ovs-vsctl --db=unix:$OVS/db.sock "$@"; }
sw() { evctl "$SOCK" "$@"; }
# swq CMD ARGS JQ-FILTER [JQ-OPTIONS]: true when evio-switchctl answers CMD
# and the filter holds (jq -e alone is true on empty input).
swq() {
  local out
  out=$(sw "$1" "$2") || return 1
  jq -e "${@:4}" "$3" <<<"$out" >/dev/null
}

ns_add n h
ovs_start n "$OVS"

log "veth tp0 (n) <-> hv0 (h), default offloads (tx checksum offload on)"
ns n ip link add tp0 type veth peer name hv0 netns "${EVT_PREFIX}h"
tx_csum_on h hv0
ns n ip link set tp0 up
ns h ip addr add 10.20.0.2/24 brd + dev hv0
ns h ip link set hv0 up
H_MAC=$(ns h cat /sys/class/net/hv0/address)

cat >"$EVT_TMP/config.json" <<EOF
{"node":{"state_dir":"$EVT_TMP/state","run_dir":"$RUN","log_level":"debug"},
 "xmpp":{"host":"127.0.0.1","user":"a@evio.test","password":"x","tls":"none"},
 "ovs":{"rundir":"$OVS","db":"unix:$OVS/db.sock"},
 "overlays":{"lab":{"bridge":{"name":"evbr0","ip":"10.20.0.1/24","mtu":1410}}}}
EOF
mkdir -p "$EVT_TMP/state" "$RUN"

start_switchctl() {
  bg n "$EVT_TMP/switchctl-$1.log" "$SWITCHCTL" --config "$EVT_TMP/config.json" >/dev/null
  SW_PID=${EVT_PIDS[-1]}
}
openflow_connected() { swq bridge/status '{}' '.bridges[0].openflow == "connected"'; }

log "bad configuration: exit status 2"
echo '{"node":{}}' >"$EVT_TMP/bad.json"
set +e; ns n "$SWITCHCTL" --config "$EVT_TMP/bad.json" 2>"$EVT_TMP/bad.out"; rc=$?; set -e
[ "$rc" = 2 ] || fail "bad config: exit status $rc, expected 2"

log "start evio-switchctl; it creates the bridge and connects as controller"
start_switchctl 1
wait_until 15 "OpenFlow connected" openflow_connected

log "bridge evbr0: datapath netdev, fail_mode secure, OpenFlow13, our controller"
[ "$(vsctl get Bridge evbr0 datapath_type)" = netdev ] || fail "datapath_type is not netdev"
[ "$(vsctl get Bridge evbr0 fail_mode)" = secure ] || fail "fail_mode is not secure"
[ "$(vsctl get Bridge evbr0 protocols)" = '[OpenFlow13]' ] || fail "protocols: $(vsctl get Bridge evbr0 protocols)"
[ "$(vsctl get-controller evbr0)" = "punix:$OVS/evbr0.evio" ] || fail "controller: $(vsctl get-controller evbr0)"
swq bridge/status '{}' '.bridges[0].datapath_type == "netdev" and .bridges[0].overlay == "lab"' \
  || fail "bridge/status: $(sw bridge/status)"

log "internal port evbr0: 10.20.0.1/24, mtu 1410, up"
has_addr() { [[ "$(ns n ip -4 addr show dev evbr0 2>/dev/null)" == *"inet 10.20.0.1/24 "* ]]; }
wait_until 10 "10.20.0.1/24 on evbr0" has_addr
[ "$(ns n cat /sys/class/net/evbr0/mtu)" = 1410 ] || fail "evbr0 mtu is $(ns n cat /sys/class/net/evbr0/mtu)"
[[ "$(ns n ip link show evbr0)" =~ [\<,]UP[,\>] ]] || fail "evbr0 is not up"

log "bad requests are refused and counted, the daemon stays up"
expect_refused() {
  local out
  set +e; out=$(sw "$@" 2>&1); local rc=$?; set -e
  [ "$rc" = 1 ] || fail "$* was not refused (exit $rc): $out"
}
expect_refused port/add '{"overlay":"nope","port":"tp0","peer":"'$PEER'"}'
expect_refused port/add '{"overlay":"lab","port":"bad/name","peer":"'$PEER'"}'
expect_refused port/add '{"overlay":"lab","port":"tp0","peer":"xyz"}'
expect_refused port/add '{"overlay":"lab","port":"nosuchdev0","peer":"'$PEER'"}'
expect_refused port/add '{"overlay":"lab"}'
expect_refused port/remove '{"overlay":"lab","port":"tp9"}'
expect_refused fdb/show '{"overlay":7}'
swq bridge/status '{}' '.bad_requests >= 7' || fail "bad requests not counted"
kill -0 "$SW_PID" || fail "evio-switchctl died on bad requests"

log "port/add tp0 with peer $PEER"
swq port/add '{"overlay":"lab","port":"tp0","peer":"'$PEER'"}' 'has("ofport")' || fail "port/add tp0 failed"
sw port/add '{"overlay":"lab","port":"tp0","peer":"'$PEER'"}' >/dev/null   # again: no-op
tp0_listed() {
  swq bridge/status '{}' '.bridges[0].ports | map(select(.port == "tp0" and .peer == $p and .ofport > 0))
    | length == 1' --arg p "$PEER"
}
wait_until 10 "tp0 on the bridge with an ofport" tp0_listed
[ "$(vsctl list-ports evbr0)" = tp0 ] || fail "ovs-vsctl does not list tp0"
TP0_OFPORT=$(vsctl get Interface tp0 ofport)

log "ping h -> 10.20.0.1 and n -> 10.20.0.2"
wait_until 10 "ping from h to 10.20.0.1" ns h ping -c 1 -W 1 10.20.0.1
ns h ping -c 3 -i 0.2 -W 1 10.20.0.1 >/dev/null || fail "ping from h lost packets"
ns n ping -c 3 -i 0.2 -W 1 10.20.0.2 >/dev/null || fail "ping from n to h failed"

log "TCP and UDP h <-> 10.20.0.1 and n <-> 10.20.0.2 (both ends offload checksums)"
l4_echo_start n 10.20.0.1 7000
l4_echo_start h 10.20.0.2 7000
l4_echo_check h 10.20.0.1 7000 || fail "TCP/UDP from h to 10.20.0.1 (see above)"
l4_echo_check n 10.20.0.2 7000 || fail "TCP/UDP from n to 10.20.0.2 (see above)"

log "UDP broadcasts h -> n and n -> h (through the controller: packet-in, packet-out)"
# bcast_check FROM TO SRC_IP: a datagram to 10.20.0.255 from namespace FROM
# (sent every 0.2 s) reaches a socket in TO
_bcast_got() { grep -qx "$1" "$EVT_TMP/bcast-$2.rx"; }
bcast_check() {
  local from=$1 to=$2 src=$3 m=evio-bcast-$1-$$
  : >"$EVT_TMP/bcast-$to.rx"
  bg "$to" "$EVT_TMP/bcast-$to.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 7001))
print("bound", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(2048) + b"\n")' "$EVT_TMP/bcast-$to.rx" >/dev/null
  local rx=${EVT_PIDS[-1]}
  wait_until 10 "the broadcast receiver in $to" grep -q bound "$EVT_TMP/bcast-$to.log"
  bg "$from" /dev/null python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind((sys.argv[1], 0))
while True:
    s.sendto(sys.argv[2].encode(), ("10.20.0.255", 7001))
    time.sleep(0.2)' "$src" "$m" >/dev/null
  local tx=${EVT_PIDS[-1]}
  wait_until 10 "a UDP broadcast from $from in $to" _bcast_got "$m" "$to"
  kill_wait "$tx" "$rx"
}
bcast_check h n 10.20.0.2
bcast_check n h 10.20.0.1
swq bridge/status '{}' '.bridges[0].stats.csum_completed > 0' \
  || fail "no partial checksum completed: $(sw bridge/status)"
grep userspace-tso-enable "$EVT_TMP/switchctl-1.log" \
  && fail "evio-switchctl warns about the OVS settings ovs_start made"

log "fdb/show: h's MAC $H_MAC on tp0 behind $PEER"
swq fdb/show '{"overlay":"lab"}' \
  '.entries | map(select(.mac == $m and .port == "tp0" and .peer == $p and .overlay == "lab")) | length == 1' \
  --arg m "$H_MAC" --arg p "$PEER" || fail "fdb/show: $(sw fdb/show)"

log "bridge/status: tp0 counters grow (OVS refreshes them every 5 s)"
tp0_counted() {
  swq bridge/status '{}' '.bridges[0].openflow == "connected" and ([.bridges[0].ports[] | select(.port == "tp0")
    | .rx_packets > 0 and .tx_packets > 0 and .rx_bytes > 0 and .tx_bytes > 0] == [true])'
}
wait_until 20 "tp0 counters > 0" tp0_counted

log "a broadcast from h reaches evbr0 exactly once"
bg n "$EVT_TMP/tcpdump.log" tcpdump -n -U -i evbr0 -w "$EVT_TMP/bcast.pcap" 'icmp and ether broadcast' >/dev/null
wait_until 10 "tcpdump listening" grep -q "listening on" "$EVT_TMP/tcpdump.log"
bcast_count() {  # bcast_count IP_TOTAL_LENGTH
  tcpdump -n -r "$EVT_TMP/bcast.pcap" "ip[2:2] = $1" 2>/dev/null | wc -l
}
ns h ping -b -c 1 -s 100 -W 1 10.20.0.255 >/dev/null 2>&1 || true   # the marker
ns h ping -b -c 1 -s 200 -W 1 10.20.0.255 >/dev/null 2>&1 || true   # sent after it
# once the second one is in, any copy of the first would be too
wait_until 10 "the second broadcast on evbr0" bash -c "[ \$(tcpdump -n -r '$EVT_TMP/bcast.pcap' 'ip[2:2] = 228' 2>/dev/null | wc -l) -ge 1 ]"
n=$(bcast_count 128)
[ "$n" = 1 ] || fail "the marker broadcast arrived $n times on evbr0, expected once"

log "kill -9 evio-switchctl during a ping: forwarding goes on (flows stay in OVS)"
bg h "$EVT_TMP/ping.log" ping -i 0.2 -W 1 10.20.0.1 >/dev/null
replies() { grep -c 'bytes from' "$EVT_TMP/ping.log" || true; }
wait_until 10 "ping replies" bash -c "[ \$(grep -c 'bytes from' '$EVT_TMP/ping.log') -ge 3 ]"
kill -9 "$SW_PID"
wait "$SW_PID" 2>/dev/null || true
before=$(replies)
wait_until 10 "ping replies while evio-switchctl is down" \
  bash -c "[ \$(grep -c 'bytes from' '$EVT_TMP/ping.log') -ge $((before + 10)) ]"
kill -0 "$SW_PID" 2>/dev/null && fail "evio-switchctl still running after kill -9"

log "restart: evio-switchctl takes the bridge over as it is"
start_switchctl 2
wait_until 15 "OpenFlow connected after restart" openflow_connected
wait_until 10 "tp0 listed after restart" tp0_listed
[ "$(vsctl get Interface tp0 ofport)" = "$TP0_OFPORT" ] || fail "tp0 was re-created"
before=$(replies)
wait_until 10 "ping replies after restart" \
  bash -c "[ \$(grep -c 'bytes from' '$EVT_TMP/ping.log') -ge $((before + 10)) ]"
ns n ping -c 2 -i 0.2 -W 1 10.20.0.2 >/dev/null || fail "ping from n to h failed after restart"
grep -q "creating" "$EVT_TMP/switchctl-2.log" && fail "the restart created the bridge again"

log "settings changed behind its back are put back (controller, fail_mode, mtu_request)"
vsctl del-controller evbr0 -- set-fail-mode evbr0 standalone -- set Interface evbr0 mtu_request=1500
repaired() {
  [ "$(vsctl get Bridge evbr0 fail_mode)" = secure ] &&
  [ "$(vsctl get-controller evbr0)" = "punix:$OVS/evbr0.evio" ] &&
  [ "$(vsctl get Interface evbr0 mtu_request)" = 1410 ] && openflow_connected
}
wait_until 15 "bridge settings repaired" repaired

log "after the restart, h's MAC is learned again from its broadcasts"
h_learned() {
  swq fdb/show '{}' '.entries | map(select(.mac == $m and .port == "tp0")) | length == 1' --arg m "$H_MAC"
}
h_broadcast_learned() { ns h ping -b -c 1 -W 1 10.20.0.255 >/dev/null 2>&1; h_learned; }
wait_until 10 "h's MAC in fdb/show after restart" h_broadcast_learned

log "port/remove tp0: the port, its flows and its MACs go"
sw port/remove '{"overlay":"lab","port":"tp0"}' >/dev/null
tp0_gone() { [ -z "$(vsctl list-ports evbr0)" ]; }
wait_until 10 "tp0 removed from evbr0" tp0_gone
flows_to_tp0_gone() {
  local flows
  flows=$(ns n ovs-ofctl -O OpenFlow13 dump-flows "unix:$OVS/evbr0.mgmt") || return 1
  [[ ! "$flows" =~ output:$TP0_OFPORT([^0-9]|$) ]]
}
wait_until 10 "flows to tp0 deleted" flows_to_tp0_gone
ports_empty() { swq bridge/status '{}' '.bridges[0].ports | length == 0'; }
wait_until 10 "bridge/status without tp0" ports_empty
swq fdb/show '{}' '.entries | map(select(.mac == $m)) | length == 0' --arg m "$H_MAC" \
  || fail "h's MAC still learned after port/remove"

log "SIGTERM: clean exit, bridge left in place"
kill -TERM "$SW_PID"
set +e; wait "$SW_PID"; rc=$?; set -e
[ "$rc" = 0 ] || fail "evio-switchctl exited with $rc on SIGTERM"
vsctl br-exists evbr0 || fail "bridge gone after exit"

log "PASS"
