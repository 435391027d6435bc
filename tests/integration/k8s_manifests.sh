#!/bin/bash
# Kubernetes with Flannel (issue 15): the files users apply render, and hold
# what matters (tests/lib/k8s_manifests.py does the checking). No API
# server, kubelet or flanneld here: `kubectl kustomize` renders offline.
#
#  - packaging/k8s/evio-daemonset.yaml (Mode B) renders through kustomize;
#    host network, NET_ADMIN + NET_RAW and no privileged, the tun device as
#    a hostPath CharDevice, the entrypoint's state_dir on a hostPath, the
#    XMPP password as a root-only file of a Secret, one XMPP resource per
#    node ($(NODE_NAME)), EVIO_ADDRESS=auto with a pool, tolerations for
#    every taint, system-node-critical, the readiness probe = the image's
#    HEALTHCHECK, the image `make image` tags, and every EVIO_* variable it
#    sets is one the entrypoint reads;
#  - packaging/k8s/flannel (host-gw) and flannel/vxlan: upstream's release
#    URL pinned to a version; with the URL replaced by a stand-in of
#    upstream's shape (tests/fixtures/kube-flannel-min.yaml), the rendered
#    flanneld has --iface-regex matching evio's bridge and nothing else,
#    upstream's args kept, and net-conf.json the backend and 10.244.0.0/16;
#  - packaging/k8s/kubelet-evio.conf: systemd-analyze verify is clean with it
#    as a drop-in of a kubelet.service; After=/Wants= evio.service and no
#    Requires=; the helper's file is an EnvironmentFile; ExecStart is
#    kubeadm's plus $EVIO_KUBELET_ARGS.
# Each check is also run on a copy with one field broken and must fail
# there, naming the field.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
evt_init

k8s=$EVT_TOP/packaging/k8s
check=$EVT_TOP/tests/lib/k8s_manifests.py
entrypoint=$EVT_TOP/packaging/docker/evio-entrypoint
dockerfile=$EVT_TOP/packaging/docker/Dockerfile

command -v kubectl >/dev/null \
  || fail "kubectl not found: this test renders the manifests with \`kubectl kustomize\` (kubectl >= 1.27, kustomize v5; Debian 12's kubernetes-client 1.20 is too old): install kubectl from https://kubernetes.io/docs/tasks/tools/"
kubectl kustomize --help >/dev/null 2>&1 || fail "kubectl has no kustomize subcommand: kubectl >= 1.27 needed"
python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml missing: apt-get install python3-yaml (scripts/deps.sh)"
log "$(kubectl version --client 2>/dev/null | paste -sd ' ')"

# render DIR OUT: kubectl kustomize DIR into OUT, or fail with its message
render() {
  kubectl kustomize "$1" >"$2" 2>"$2.err" || fail "kubectl kustomize $1: $(cat "$2.err")"
}

# expect_fail WHAT TEXT CMD...: the check CMD must fail and say TEXT
expect_fail() {
  local what=$1 text=$2 out rc=0; shift 2
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" != 0 ] || fail "broken $what: the check passed"
  [[ $out == *"$text"* ]] || fail "broken $what: the check failed without \"$text\": $out"
  log "  broken $what: caught ($(printf '%s' "$out" | grep -F -- "$text" | head -1))"
}

# mutate FILE SED_EXPR: edit FILE in place; fail if nothing changed (so a
# broken-field case cannot pass because its text moved)
mutate() {
  cp "$1" "$1.orig"
  sed -i "$2" "$1"
  ! cmp -s "$1" "$1.orig" || fail "mutation '$2' changed nothing in $1"
  rm -f "$1.orig"
}

# --- the DaemonSet (Mode B) ---------------------------------------------------
log "evio-daemonset.yaml"
# ds_case NAME [SED_EXPR [ENTRYPOINT_SED]]: a kustomization around a copy of
# the manifest (and of the entrypoint), rendered; prints the check's command
ds_case() {
  local d=$EVT_TMP/ds-$1
  mkdir -p "$d/k"
  cp "$k8s/evio-daemonset.yaml" "$d/k/"
  cp "$entrypoint" "$d/entrypoint"
  printf 'resources:\n- evio-daemonset.yaml\n' >"$d/k/kustomization.yaml"
  [ -n "${2:-}" ] && mutate "$d/k/evio-daemonset.yaml" "$2"
  [ -n "${3:-}" ] && mutate "$d/entrypoint" "$3"
  render "$d/k" "$d/rendered.yaml"
  echo "$d"
}
ds_check() { python3 "$check" daemonset "$1/rendered.yaml" "$1/entrypoint" "$dockerfile" "$EVT_TOP/Makefile"; }
# ds_broken WHAT TEXT NAME SED_EXPR [ENTRYPOINT_SED]: the check must fail on
# the copy so broken, saying TEXT
ds_broken() {
  local what=$1 text=$2 c; shift 2
  c=$(ds_case "$@")
  expect_fail "$what" "$text" ds_check "$c"
}

d=$(ds_case good)
ds_check "$d" || fail "evio-daemonset.yaml: the checks above failed"
log "  renders; every check passes ($(grep -c '^kind:' "$d/rendered.yaml") objects)"

ds_broken privileged "securityContext.privileged is True" priv 's/privileged: false/privileged: true/'
ds_broken NET_RAW "not exactly NET_ADMIN and NET_RAW" noraw 's/add: \["NET_ADMIN", "NET_RAW"\]/add: ["NET_ADMIN"]/'
ds_broken seccomp "seccompProfile is {'type': 'Unconfined'}" seccomp 's/type: RuntimeDefault/type: Unconfined/'
ds_broken hostNetwork "hostNetwork is not true" nohost 's/hostNetwork: true/hostNetwork: false/'
ds_broken "tun type" "/dev/net/tun is not a hostPath CharDevice" tun 's/type: CharDevice/type: File/'
ds_broken "state dir" "state_dir '/var/lib/evio' is not a hostPath DirectoryOrCreate" \
  state 's/type: DirectoryOrCreate/type: Directory/'
ds_broken "Secret mode" "readable by others" mode 's/defaultMode: 0400/defaultMode: 0644/'
ds_broken "password file" "EVIO_XMPP_PASSWORD_FILE: /run/elsewhere is not a mounted Secret volume" \
  pwf 's|value: /run/secrets/evio/xmpp-password|value: /run/elsewhere/xmpp-password|'
ds_broken tolerations "no toleration {operator: Exists}" tol 's/- operator: Exists/- operator: Equal\n        key: x/'
ds_broken "priority class" "not system-node-critical" prio 's/system-node-critical/system-cluster-critical/'
ds_broken "readiness probe" "is not the image's HEALTHCHECK" probe 's/"wait", "--timeout", "3"/"status"/'
ds_broken "XMPP resource" "does not end in /\$(NODE_NAME)" res 's|"$(XMPP_ACCOUNT)/$(NODE_NAME)"|"$(XMPP_ACCOUNT)"|'
ds_broken "bridge kept" "EVIO_KEEP_BRIDGE is 'false'" keep 's/EVIO_KEEP_BRIDGE: "true"/EVIO_KEEP_BRIDGE: "false"/'
ds_broken "renamed variable" "EVIO_POOL is set, but the entrypoint does not read it" \
  rename '' 's/EVIO_POOL/EVIO_ADDRESS_POOL/g'

# --- Flannel over evio ----------------------------------------------------------
log "flannel kustomization"
url_re='^- https://github\.com/flannel-io/flannel/releases/download/v[0-9]+\.[0-9]+\.[0-9]+/kube-flannel\.yml$'
n=$(grep -cE "$url_re" "$k8s/flannel/base/kustomization.yaml" || true)
[ "$n" = 1 ] || fail "base/kustomization.yaml: expected one resource, upstream's release manifest pinned to vX.Y.Z; found $n"
grep -E '^- ' "$k8s/flannel/base/kustomization.yaml" | grep -vE "$url_re" | grep -q 'http' \
  && fail "base/kustomization.yaml fetches something else than upstream's release manifest"
log "  upstream: $(grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' "$k8s/flannel/base/kustomization.yaml" | head -1)"
# the bridge name evio gives by default (evio-OVERLAY), as in the example config
bridge=$(jq -r '.overlays | to_entries[0].value.bridge.name' "$EVT_TOP/packaging/config.example.json")
[[ $bridge == evio-* ]] || fail "the example config's bridge $bridge does not follow evio-OVERLAY"

# fl_case NAME [FILE SED_EXPR]: a copy of packaging/k8s/flannel with the URL
# replaced by the stand-in (and FILE, relative to it, edited)
fl_case() {
  local d=$EVT_TMP/fl-$1
  mkdir -p "$d"
  cp -r "$k8s/flannel" "$d/"
  cp "$EVT_TOP/tests/fixtures/kube-flannel-min.yaml" "$d/flannel/base/"
  sed -i -E "s#$url_re#- kube-flannel-min.yaml#" "$d/flannel/base/kustomization.yaml"
  grep -q '^- kube-flannel-min.yaml$' "$d/flannel/base/kustomization.yaml" || fail "cannot replace the URL"
  [ -n "${2:-}" ] && mutate "$d/flannel/$2" "$3"
  echo "$d/flannel"
}
fl_check() { # DIR BACKEND
  render "$1" "$1.rendered.yaml"
  python3 "$check" flannel "$1.rendered.yaml" "$2" "$bridge"
}
# fl_broken WHAT TEXT BACKEND NAME FILE SED_EXPR [SUBDIR]
fl_broken() {
  local what=$1 text=$2 backend=$3 c; shift 3
  c=$(fl_case "$1" "$2" "$3")
  expect_fail "$what" "$text" fl_check "$c${4:+/$4}" "$backend"
}

f=$(fl_case good)
fl_check "$f" host-gw || fail "packaging/k8s/flannel: the checks above failed"
fl_check "$f/vxlan" vxlan || fail "packaging/k8s/flannel/vxlan: the checks above failed"
log "  host-gw and vxlan render; flanneld: $(grep -o -- '--iface[^ ]*' "$f.rendered.yaml")"
# the pod network the docs tell kubeadm is the one Flannel is given
for doc in doc/kubernetes.md README.md; do
  grep -q -- '--pod-network-cidr=10.244.0.0/16' "$EVT_TOP/$doc" \
    || fail "$doc does not give kubeadm --pod-network-cidr=10.244.0.0/16, the Network of net-conf.json"
done

fl_broken backend "Backend.Type is 'vxlan', not host-gw" host-gw be net-conf.yaml 's/"host-gw"/"vxlan"/'
fl_broken "vxlan backend" "Backend.Type is 'host-gw', not vxlan" vxlan vbe vxlan/net-conf.yaml 's/"vxlan"/"host-gw"/' vxlan
fl_broken Network "Network is '10.96.0.0/16'" host-gw net net-conf.yaml 's#10.244.0.0/16#10.96.0.0/16#'
fl_broken "iface regex" "also matches e0a1b2c3d" host-gw rx base/iface.yaml 's/\^evio-/^e/'
fl_broken "iface patch" "expected one --iface" host-gw nopatch base/kustomization.yaml '/^patches:/,$d'
# upstream reordering its containers makes the build fail, not the wrong patch
bad_order=$(fl_case order)
python3 - "$bad_order/base/kube-flannel-min.yaml" <<'PY'
import sys, yaml
p = sys.argv[1]
docs = list(yaml.safe_load_all(open(p)))
for d in docs:
    if d["kind"] == "DaemonSet":
        d["spec"]["template"]["spec"]["containers"].insert(0, {"name": "sidecar", "image": "x"})
yaml.safe_dump_all(docs, open(p, "w"))
PY
rc=0; kubectl kustomize "$bad_order" >/dev/null 2>"$EVT_TMP/order.err" || rc=$?
[ "$rc" != 0 ] || fail "kustomize patched a DaemonSet whose first container is not flanneld"
grep -q 'test failed' "$EVT_TMP/order.err" || fail "reordered upstream: unexpected error $(cat "$EVT_TMP/order.err")"
log "  broken upstream order: kustomize refuses (test op failed)"

# --- the kubelet drop-in (Mode A) -----------------------------------------------
log "kubelet-evio.conf"
python3 "$check" kubelet "$k8s/kubelet-evio.conf" || fail "kubelet-evio.conf: the checks above failed"
[ -x "$k8s/evio-kubelet-env" ] || fail "packaging/k8s/evio-kubelet-env is not executable"
sh -n "$k8s/evio-kubelet-env" || fail "evio-kubelet-env: syntax error"
# systemd-analyze verify: the drop-in under a stand-in kubelet.service (and
# evio.service), with the programs pointed at files that exist here
u=$EVT_TMP/units
mkdir -p "$u/kubelet.service.d"
printf '[Unit]\nDescription=kubelet stand-in\n[Service]\nExecStart=/bin/true\nRestart=always\n' >"$u/kubelet.service"
printf '[Unit]\nDescription=evio stand-in\n[Service]\nType=notify\nExecStart=/bin/true\n' >"$u/evio.service"
sed "s|/usr/local/sbin/evio-kubelet-env|$k8s/evio-kubelet-env|; s|/usr/bin/kubelet|/bin/true|" \
  "$k8s/kubelet-evio.conf" >"$u/kubelet.service.d/20-evio.conf"
out=$(cd "$u" && systemd-analyze verify ./kubelet.service 2>&1) || true
[ -z "$out" ] || fail "systemd-analyze verify kubelet.service with the drop-in: $out"
log "  systemd-analyze verify: clean"
# kubelet_broken WHAT TEXT SED_EXPR
kubelet_broken() {
  local c=$EVT_TMP/kubelet-$((++nk)).conf
  cp "$k8s/kubelet-evio.conf" "$c"
  mutate "$c" "$3"
  expect_fail "$1" "$2" python3 "$check" kubelet "$c"
}
nk=0
kubelet_broken Requires= "Requires=evio.service" 's/^Wants=evio.service/Requires=evio.service/'
kubelet_broken ExecStart "with \$EVIO_KUBELET_ARGS last" 's/ \$EVIO_KUBELET_ARGS$//'
kubelet_broken EnvironmentFile "which no EnvironmentFile= reads" 's|^EnvironmentFile=-/run/evio-kubelet.env|EnvironmentFile=-/etc/default/kubelet|'

echo "k8s_manifests: ok"
