#!/bin/bash
# The evio container (issue 14), run by podman from packaging/docker's image,
# each container straight in a site's namespace of the emulated internet
# (`--network ns:/run/netns/NODE`), behind its own home-router NAT:
#
#   evio1 in node1 -- nat1 --+
#   evio2 in node2 -- nat2 --+-- internet -- srv: prosody (STARTTLS, test CA), coturn
#   evio3 in node3 -- nat3 --+
#
#  - join: two containers configured by environment variables alone
#    (EVIO_ADDRESS=auto, the XMPP password as a mounted secret file) link
#    directly through the test's prosody and coturn, get distinct addresses
#    and ping each other; the health check passes once ready;
#  - least privilege: --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW
#    and the tun device; evio, its helpers and OVS inside have exactly
#    those effective capabilities, and nothing runs --privileged;
#  - a third container on a third site joins the running overlay (its join
#    time: `run` to links to both others and a ping answered);
#  - sidecar: an application container sharing evio1's network namespace
#    (--network container:evio1) talks TCP to an application on node2 over
#    the overlay;
#  - stop is clean: `podman stop` exits 0 within 10 s, and nothing of evio's
#    is left in the namespace (no TAP or bridge port, no process);
#  - restart keeps identity: a new container on the same /var/lib/evio
#    volume has the same node ID and address, links back; the other nodes'
#    agents and their link between them are untouched.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
source "$EVT_TOP/tests/lib/deb.sh"
source "$EVT_TOP/tests/lib/container.sh"
evt_init
ctr_cleanup_trap

ctr_image
log "image: $(ctr image inspect -f '{{.Id}}' "$CTR_IMAGE" | cut -c1-12)," \
    "$(ctr image inspect -f '{{.Size}}' "$CTR_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

net_up 3
node_servers 3
srv=$(net_srv_ip)

# evio_run I: container evio<I> in namespace node<I>, from variables alone;
# its control socket is bind-mounted into $(node_dir I)/run, its state
# (the volume) is $(node_dir I)/state
evio_run() {
  local i=$1 d name=${EVT_PREFIX}evio$1
  d=$(node_dir "$i")
  mkdir -p "$d/state" "$d/run" "$d/secrets"
  printf 'pw%s' "$i" >"$d/secrets/xmpp"
  chmod 0600 "$d/secrets/xmpp"
  CTR_NAMES+=("$name")
  ctr run -d --name "$name" --network "ns:/run/netns/${EVT_PREFIX}node$i" \
    --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
    -v "$d/state:/var/lib/evio" -v "$d/run:/run/evio" \
    -v "$d/secrets/xmpp:/run/secrets/xmpp:ro" -v "$NODE_CA_FILE:/etc/ssl/evio-test-ca.crt:ro" \
    -e EVIO_OVERLAY=lab -e EVIO_ADDRESS="$(evio_address "$i")" \
    -e EVIO_XMPP_HOST="$srv" -e EVIO_XMPP_USER="node$i@evio.test" \
    -e EVIO_XMPP_PASSWORD_FILE=/run/secrets/xmpp -e EVIO_XMPP_CA_FILE=/etc/ssl/evio-test-ca.crt \
    -e EVIO_TURN_SERVER="$srv:3478" -e EVIO_TURN_USER=test -e EVIO_TURN_PASSWORD=testpw \
    -e EVIO_LOG_LEVEL=debug "$CTR_IMAGE" >/dev/null || fail "podman run evio$i failed"
}

evio_address() { echo auto; }
# node_ip I: node I's overlay address (on its bridge, evio-lab)
node_ip() {
  ip -n "${EVT_PREFIX}node$1" -4 -o addr show dev evio-lab | awk '{ sub(/\/.*/, "", $4); print $4; exit }' | grep .
}
# link_to I PEER_ID: node I's link to PEER_ID as JSON
link_to() {
  node_status "$1" "$(node_dir "$1")" | jq -ec --arg p "$2" '.overlays[0].links[] | select(.peer == $p)'
}
ready() { node_status "$1" "$(node_dir "$1")" | jq -e .ready >/dev/null; }
# ns_left I: what of evio's is left in namespace node<I>: interfaces other
# than lo and eth0, and processes
ns_left() {
  local links pids
  links=$(ip -n "${EVT_PREFIX}node$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' \
          | grep -vxE 'lo|eth0' | tr '\n' ' ' || true)
  pids=$(for p in $(ip netns pids "${EVT_PREFIX}node$1"); do printf '%s(%s) ' "$p" "$(cat /proc/$p/comm 2>/dev/null)"; done)
  echo "${links:+links: $links}${pids:+processes: $pids}"
}

log "join: evio1 and evio2 from environment variables"
t0=$(date +%s%N)
evio_run 1
evio_run 2
for i in 1 2; do
  wait_until 30 "evio$i's control socket" node_status "$i" "$(node_dir "$i")"
done
wait_until 60 "evio1 and evio2 linked" eval 'node_links_connected 1 1 && node_links_connected 2 1'
log "linked $(( ($(date +%s%N) - t0) / 1000000 )) ms after podman run"
node_assert_direct 1 "$(node_dir 1)"
node_assert_direct 2 "$(node_dir 2)"
wait_until 30 "evio1 ready" ready 1
wait_until 30 "evio2 ready" ready 2
ip1=$(node_ip 1) ip2=$(node_ip 2)
[ "$ip1" != "$ip2" ] || fail "both containers took $ip1"
log "addresses: evio1 $ip1, evio2 $ip2"
for i in 1 2; do
  st=$(node_status "$i" "$(node_dir "$i")" | jq -r '.overlays[0].ip')
  [ "$st" = "$(node_ip "$i")/16" ] || fail "evio$i's status says ip \"$st\", its bridge has $(node_ip "$i")/16"
done
node_wait_ping 1 "$ip2" 15
ns node2 ping -c 3 -i 0.2 -W 2 "$ip1" >/dev/null || fail "node2 cannot ping $ip1"
for i in 1 2; do
  ctr healthcheck run "${EVT_PREFIX}evio$i" >/dev/null || fail "evio$i: the health check fails while ready"
done
log "ping both ways; health checks pass"

log "least privilege: the effective capabilities of everything in the container"
# CAP_NET_ADMIN (12) and CAP_NET_RAW (13), and nothing else
want=0000000000003000
for p in $(ip netns pids "${EVT_PREFIX}node1"); do
  comm=$(cat "/proc/$p/comm") eff=$(awk '/^CapEff/ {print $2}' "/proc/$p/status")
  bnd=$(awk '/^CapBnd/ {print $2}' "/proc/$p/status")
  log "  $p $comm: CapEff $eff CapBnd $bnd"
  [ "$eff" = "$want" ] || fail "$comm (pid $p) has CapEff $eff, expected $want (NET_ADMIN, NET_RAW)"
  [ "$bnd" = "$want" ] || fail "$comm (pid $p) has CapBnd $bnd, expected $want"
done
inside=$(ctr exec "${EVT_PREFIX}evio1" sh -c 'grep CapEff /proc/1/status' | awk '{print $2}')
[ "$inside" = "$want" ] || fail "CapEff of PID 1 seen inside: $inside"
[ "$(ctr inspect -f '{{.HostConfig.Privileged}}' "${EVT_PREFIX}evio1")" = false ] || fail "privileged"
comms=" $(for p in $(ip netns pids "${EVT_PREFIX}node1"); do cat "/proc/$p/comm"; done | tr '\n' ' ')"
for c in ovs-vswitchd ovsdb-server evio evio-tincan evio-switchctl; do
  [[ $comms == *" $c "* ]] || fail "no $c runs in evio1 (only$comms)"
done

log "a third container joins the running overlay"
t0=$(date +%s%N)
evio_run 3
wait_until 60 "evio3 linked to both" node_links_connected 3 2
wait_until 30 "evio3 ready" ready 3
ip3=$(node_ip 3)
wait_until 30 "evio3 answering ping from node1" ns node1 ping -c 1 -W 1 "$ip3"
join_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "evio3 ($ip3) joined: 2 links and a ping answered $join_ms ms after podman run"
[ "$ip3" != "$ip1" ] && [ "$ip3" != "$ip2" ] || fail "evio3 took an address already in use: $ip3"
wait_until 30 "evio1 and evio2 linked to evio3" eval 'node_links_connected 1 2 && node_links_connected 2 2'

log "sidecar: an application in evio1's network namespace reaches node2's over the overlay"
l4_echo_start node2 "$ip2" 7000
echo_pid=${EVT_PIDS[-1]}
app=${EVT_PREFIX}app1
CTR_NAMES+=("$app")
got=$(ctr run --name "$app" --rm --network "container:${EVT_PREFIX}evio1" --cap-drop ALL "$CTR_BASE" \
      bash -c 'exec 3<>/dev/tcp/$0/7000 && echo "hello from the sidecar" >&3 && read -r l <&3 && echo "$l"' "$ip2") \
  || fail "the sidecar's TCP exchange with $ip2:7000 failed"
[ "$got" = "hello from the sidecar" ] || fail "the sidecar got \"$got\""
log "sidecar: TCP echo through $ip2:7000: \"$got\""
kill_wait "$echo_pid"

log "stop is clean, and a new container on the same volume keeps the identity"
id2=$(node_id 2) pid1=$(ctr inspect -f '{{.State.Pid}}' "${EVT_PREFIX}evio1")
pid3=$(ctr inspect -f '{{.State.Pid}}' "${EVT_PREFIX}evio3")
id3=$(node_id 3)
l13=$(link_to 1 "$id3" | jq -r .link_id)
t0=$(date +%s%N)
ctr stop -t 10 "${EVT_PREFIX}evio2" >/dev/null || fail "podman stop evio2 failed"
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(ctr inspect -f '{{.State.ExitCode}}' "${EVT_PREFIX}evio2")
log "podman stop: $stop_ms ms, exit code $code"
[ "$code" = 0 ] || fail "evio2 exited $code on SIGTERM, expected 0"
[ "$stop_ms" -lt 10000 ] || fail "stop took $stop_ms ms (10 s is the limit)"
left=$(ns_left 2)
[ -z "$left" ] || fail "left in node2 after stop: $left"
ctr logs "${EVT_PREFIX}evio2" >"$EVT_TMP/evio2-first.log" 2>&1 || true
ctr rm "${EVT_PREFIX}evio2" >/dev/null
evio_run 2
wait_until 30 "the new evio2's control socket" node_status 2 "$(node_dir 2)"
[ "$(node_id 2)" = "$id2" ] || fail "the new evio2 has node ID $(node_id 2), was $id2"
wait_until 60 "the new evio2 linked to both" node_links_connected 2 2
wait_until 30 "evio2 ready again" ready 2
[ "$(node_ip 2)" = "$ip2" ] || fail "the new evio2 has address $(node_ip 2), was $ip2"
node_wait_ping 1 "$ip2" 15
[ "$(ctr inspect -f '{{.State.Pid}}' "${EVT_PREFIX}evio1")" = "$pid1" ] || fail "evio1 restarted"
[ "$(ctr inspect -f '{{.State.Pid}}' "${EVT_PREFIX}evio3")" = "$pid3" ] || fail "evio3 restarted"
[ "$(link_to 1 "$id3" | jq -r '"\(.link_id) \(.state)"')" = "$l13 connected" ] \
  || fail "evio1's link to evio3 changed: $(link_to 1 "$id3")"
log "evio2 back as ${id2:0:12} at $ip2; evio1 and evio3 and their link untouched"

log "all stop cleanly"
for i in 1 2 3; do
  ctr stop -t 10 "${EVT_PREFIX}evio$i" >/dev/null
  code=$(ctr inspect -f '{{.State.ExitCode}}' "${EVT_PREFIX}evio$i")
  [ "$code" = 0 ] || fail "evio$i exited $code"
  left=$(ns_left "$i")
  [ -z "$left" ] || fail "left in node$i after stop: $left"
done
log "ok"
