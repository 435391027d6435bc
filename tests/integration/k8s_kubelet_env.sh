#!/bin/bash
# The kubelet's --node-ip from evio (issue 15, Mode A): packaging/k8s/
# evio-kubelet-env, which kubelet-evio.conf runs as ExecStartPre, against a
# real evio (one node in a namespace with its own Open vSwitch; no XMPP
# server answers, none is needed to be ready alone). Overlay "lab" takes
# its address by itself ("ip": "auto", claimed after 10 s alone), overlay
# "lab2" has a static one.
#
# Checks: while "lab" has no address yet, the helper waits, gives up after
# --timeout with exit 1 and writes nothing (systemd then restarts the
# kubelet later); once ready, without --overlay it refuses (two overlays,
# both named); --overlay lab writes EVIO_KUBELET_ARGS=--node-ip=<the claimed
# address>, the one `evioctl status --json` reports and evbr0 carries, mode
# 0644; --overlay lab2 the static one; an unknown overlay exits 1; bad usage
# exits 2.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
evt_init

helper=$EVT_TOP/packaging/k8s/evio-kubelet-env
d=$EVT_TMP/node
mkdir -p "$d/state" "$d/run" "$d/ovs"
ns_add node
ovs_start node "$d/ovs"
jq -n --arg d "$d" '{
  node: {state_dir: "\($d)/state", run_dir: "\($d)/run", log_level: "debug"},
  xmpp: {host: "127.0.0.1", port: 5222, user: "node1@evio.test", password: "pw", tls: "none"},
  ovs: {rundir: "\($d)/ovs", db: "unix:\($d)/ovs/db.sock"},
  overlays: {
    lab: {bridge: {name: "evbr0", ip: "auto", pool: "10.10.0.0/16"}},
    lab2: {bridge: {name: "evbr1", ip: "10.251.0.1/24"}}
  }
}' >"$d/config.json"
chmod 600 "$d/config.json"
sock=$d/run/evio.sock
bg node "$d/evio.log" "$EVT_BUILD/evio" --config "$d/config.json" >/dev/null
wait_until 20 "evio's control socket" "$EVT_BUILD/evioctl" --socket "$sock" status

# kenv ARGS...: the helper in the node's namespace, with this tree's evioctl
kenv() { EVIOCTL=$EVT_BUILD/evioctl ns node "$helper" --socket "$sock" "$@"; }
out=$EVT_TMP/kubelet.env

rc=0; kenv --overlay lab --timeout x "$out" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--timeout x: exit $rc, expected 2"
rc=0; kenv 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "no FILE: exit $rc, expected 2"

# not ready yet: "lab" claims its address only after 10 s alone
rc=0; msg=$(kenv --overlay lab --timeout 1 "$out" 2>&1) || rc=$?
if "$EVT_BUILD/evioctl" --socket "$sock" --json status | jq -e .ready >/dev/null; then
  fail "evio was ready within a second: this check needs it not ready (log: $msg)"
fi
[ "$rc" = 1 ] || fail "not ready: exit $rc, expected 1: $msg"
[[ $msg == *"evio is not ready"* ]] || fail "not ready: the helper says: $msg"
[ ! -e "$out" ] || fail "not ready: $out was written"
log "not ready: exit 1 after --timeout 1, nothing written ($msg)"

wait_until 60 "evio ready (lab's address claimed)" \
  "$EVT_BUILD/evioctl" --socket "$sock" wait --timeout 1
claimed=$("$EVT_BUILD/evioctl" --socket "$sock" --json status | jq -r '.overlays[] | select(.name == "lab") | .ip')
[[ $claimed == 10.10.*/16 ]] || fail "lab's address in status: \"$claimed\""
ns node ip -4 -o addr show dev evbr0 | grep -q " inet $claimed " || fail "evbr0 does not carry $claimed"
log "lab claimed $claimed"

rc=0; msg=$(kenv "$out" 2>&1) || rc=$?
[ "$rc" = 1 ] && [[ $msg == *"several overlays (lab lab2)"*"--overlay NAME"* ]] \
  || fail "two overlays without --overlay: exit $rc: $msg"
[ ! -e "$out" ] || fail "two overlays without --overlay: $out was written"

kenv --overlay lab "$out" || fail "--overlay lab: exit $?"
want="EVIO_KUBELET_ARGS=--node-ip=${claimed%/*}"
[ "$(cat "$out")" = "$want" ] || fail "$out holds \"$(cat "$out")\", expected \"$want\""
[ "$(stat -c %a "$out")" = 644 ] || fail "$out has mode $(stat -c %a "$out"), expected 644"
log "--overlay lab: $(cat "$out")"

kenv --overlay lab2 "$out" || fail "--overlay lab2: exit $?"
[ "$(cat "$out")" = "EVIO_KUBELET_ARGS=--node-ip=10.251.0.1" ] || fail "--overlay lab2: $(cat "$out")"
log "--overlay lab2: $(cat "$out")"

rc=0; msg=$(kenv --overlay nope "$out" 2>&1) || rc=$?
[ "$rc" = 1 ] && [[ $msg == *'no overlay "nope"'* ]] || fail "--overlay nope: exit $rc: $msg"
echo "k8s_kubelet_env: ok"
