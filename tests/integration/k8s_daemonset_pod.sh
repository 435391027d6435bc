#!/bin/bash
# Mode B of "Kubernetes with Flannel" (issue 15): evio's DaemonSet pod, run
# as a kubelet would run it (no kubelet exists in Debian 12). The podman
# arguments come from packaging/k8s/evio-daemonset.yaml itself
# (tests/lib/k8s_podman.py): host network = a test node's namespace behind
# its own home NAT, the securityContext's capabilities, the tun device, the
# hostPath state directory, the Secret's files with its defaultMode, and the
# environment from the ConfigMap and env (one XMPP account for all nodes,
# resource = the node name). The test fills in only what a deployment does:
# its servers, and its CA (EVIO_XMPP_CA_FILE, mounted), plus a bind mount of
# evio's run directory to read status from outside.
#
#  - two pods on node1 and node2 link directly, take distinct "auto"
#    addresses, ping each other, and the readiness probe passes;
#  - a pod stopped as Kubernetes stops it (SIGTERM, grace period) leaves
#    the bridge's interface to the next pod (EVIO_KEEP_BRIDGE=true in the
#    ConfigMap): a vxlan made on it as flanneld makes flannel.1 survives,
#    and the bridge keeps its interface index; the pod started again on the
#    same hostPath takes the bridge over, keeps its node ID and address and
#    links back.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/deb.sh"
source "$EVT_TOP/tests/lib/container.sh"
evt_init
python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is not installed (scripts/deps.sh)"
ctr_cleanup_trap

DS=$EVT_TOP/packaging/k8s/evio-daemonset.yaml
POD=$EVT_TOP/tests/lib/k8s_podman.py
ctr_image
net_up 2
node_servers 2
prosody_user srv "$EVT_TMP/prosody" k8s k8spw
srv=$(net_srv_ip)

mapfile -t secret < <(python3 "$POD" secret "$DS")
[ "${secret[1]}" = 400 ] || fail "the Secret's defaultMode is ${secret[1]}, evio needs the password file unreadable by others"

# pod_run I: the DaemonSet's pod on node I (namespace node<I>)
pod_run() {
  local i=$1 d name=${EVT_PREFIX}evio-pod$1 over args=()
  d=$(node_dir "$i")
  mkdir -p "$d/state" "$d/run" "$d/secret"
  printf k8spw >"$d/secret/xmpp-password"
  printf testpw >"$d/secret/turn-password"
  chmod "${secret[1]}" "$d/secret"/*
  over=$(jq -nc --arg srv "$srv" --arg d "$d" --arg img "$CTR_IMAGE" '{
    config: {EVIO_XMPP_HOST: $srv, XMPP_ACCOUNT: "k8s@evio.test", EVIO_STUN: "\($srv):3478",
             EVIO_TURN_SERVER: "\($srv):3478", EVIO_TURN_USER: "test", EVIO_LOG_LEVEL: "debug"},
    env: {EVIO_XMPP_CA_FILE: "/etc/ssl/evio-test-ca.crt"},
    hostpaths: {"/var/lib/evio": "\($d)/state"}, secret_dir: "\($d)/secret", image: $img}')
  mapfile -d '' args < <(python3 "$POD" args "$DS" "node$i" "/run/netns/${EVT_PREFIX}node$i" "$over") \
    || fail "k8s_podman.py cannot run the DaemonSet"
  [ ${#args[@]} -gt 4 ] || fail "k8s_podman.py gave no arguments"
  CTR_NAMES+=("$name")
  ctr run -d --name "$name" -v "$d/run:/run/evio" -v "$NODE_CA_FILE:/etc/ssl/evio-test-ca.crt:ro" \
    "${args[@]}" >/dev/null || fail "podman run of node$i's pod failed"
}
pod_ready() {
  local probe=()
  mapfile -d '' probe < <(python3 "$POD" probe "$DS")
  ctr exec "${EVT_PREFIX}evio-pod$1" "${probe[@]}" >/dev/null 2>&1
}
node_ip() {
  node_status "$1" "$(node_dir "$1")" | jq -er '.overlays[0].ip | select(. != null) | sub("/.*"; "")'
}

log "the DaemonSet's pod on node1 and node2: $(python3 "$POD" args "$DS" node1 /run/netns/X \
  '{"hostpaths": {"/var/lib/evio": "/x"}, "secret_dir": "/s"}' | tr '\0' ' ' | cut -c1-400)..."
t0=$(date +%s%N)
pod_run 1
pod_run 2
for i in 1 2; do
  wait_until 30 "node$i pod's control socket" node_status "$i" "$(node_dir "$i")"
done
wait_until 60 "the two pods linked" eval 'node_links_connected 1 1 && node_links_connected 2 1'
node_assert_direct 1 "$(node_dir 1)"
for i in 1 2; do wait_until 30 "node$i's pod ready (the readiness probe)" pod_ready "$i"; done
log "linked and ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after podman run"
ip1=$(node_ip 1) ip2=$(node_ip 2)
[ "$ip1" != "$ip2" ] || fail "both pods took $ip1"
node_wait_ping 1 "$ip2" 15
ns node2 ping -c 3 -i 0.2 -W 2 "$ip1" >/dev/null || fail "node2 cannot ping $ip1"
for i in 1 2; do
  x=$(node_status "$i" "$(node_dir "$i")" | jq -c '.xmpp | {user, state}')
  [ "$x" = "{\"user\":\"k8s@evio.test/node$i\",\"state\":\"connected\"}" ] \
    || fail "node$i's pod: xmpp $x, expected k8s@evio.test/node$i connected"
done
log "addresses $ip1 and $ip2 (auto), ping both ways; both logged in as k8s@evio.test/<node name>"

log "node2's pod stopped as Kubernetes stops it, with flannel.1 on its bridge, and started again"
id2=$(node_id 2)
ns node2 ip link add flannel.1 type vxlan id 1 dev evio-lab dstport 8472 nolearning \
  || fail "cannot make flannel.1 on node2's evio-lab"
ns node2 ip link set flannel.1 up
# indexes: node2's "evio-lab/flannel.1" interface indexes ("gone" for one gone)
idx() { ns node2 cat "/sys/class/net/$1/ifindex" 2>/dev/null || echo gone; }
indexes() { echo "$(idx evio-lab)/$(idx flannel.1)"; }
before=$(indexes)
t0=$(date +%s%N)
ctr stop -t 30 "${EVT_PREFIX}evio-pod2" >/dev/null || fail "podman stop of node2's pod failed"
code=$(ctr inspect -f '{{.State.ExitCode}}' "${EVT_PREFIX}evio-pod2")
[ "$code" = 0 ] || fail "node2's pod exited $code on SIGTERM, expected 0"
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
now=$(indexes)
[ "$now" = "$before" ] || fail "the pod's stop changed evio-lab/flannel.1 (ifindex $before -> $now)"
ctr rm "${EVT_PREFIX}evio-pod2" >/dev/null
wait_until 30 "node1 to see the link to node2 gone" eval '! node_links_connected 1 1'
t0=$(date +%s%N)
pod_run 2
wait_until 30 "the new pod's control socket" node_status 2 "$(node_dir 2)"
[ "$(node_id 2)" = "$id2" ] || fail "the new pod has node ID $(node_id 2), was $id2"
wait_until 60 "the new pod linked" eval 'node_links_connected 1 1 && node_links_connected 2 1'
wait_until 30 "the new pod ready" pod_ready 2
[ "$(node_ip 2)" = "$ip2" ] || fail "the new pod has address $(node_ip 2), was $ip2"
node_wait_ping 1 "$ip2" 15
after=$(indexes)
[ "$after" = "$before" ] || fail "the new pod recreated evio-lab or lost flannel.1 (ifindex $before -> $after)"
log "stopped in $stop_ms ms (exit 0), evio-lab and flannel.1 kept (ifindex $after); node2 back as ${id2:0:12} at $ip2, linked and ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after podman run"
