#!/usr/bin/env python3
"""Checks of evio's Kubernetes files (tests/integration/k8s_manifests.sh).

  k8s_manifests.py daemonset RENDERED.yaml ENTRYPOINT DOCKERFILE MAKEFILE
  k8s_manifests.py flannel RENDERED.yaml BACKEND BRIDGE_NAME
  k8s_manifests.py kubelet DROPIN

Each prints one line per problem ("daemonset: ...") and exits 1 if there is
any, 0 otherwise. RENDERED is `kubectl kustomize` output (several documents).
"""
import json
import re
import sys

import yaml

problems = []


def bad(msg):
    problems.append(msg)


def docs_of(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def find(docs, kind, name):
    for d in docs:
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
            return d
    return None


def only(docs, kind):
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        bad("expected one %s, found %d" % (kind, len(found)))
        return None
    return found[0]


def code_words(path):
    """The words of a shell script outside comments."""
    words = set()
    with open(path) as f:
        for line in f:
            if line.lstrip().startswith("#"):
                continue
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line))
    return words


def check_daemonset(rendered, entrypoint, dockerfile, makefile):
    docs = docs_of(rendered)
    ds = only(docs, "DaemonSet")
    if ds is None:
        return
    ns = ds["metadata"].get("namespace")
    nsobj = find(docs, "Namespace", ns)
    if nsobj is None:
        bad("no Namespace %r for the DaemonSet" % ns)
    elif nsobj["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") != "privileged":
        bad("Namespace %s: pod-security.kubernetes.io/enforce is not privileged "
            "(hostNetwork, hostPath and NET_ADMIN are refused by baseline)" % ns)
    for d in docs:
        if d.get("kind") == "Secret":
            bad("the manifest holds a Secret (%s): passwords must not be in the file"
                % d["metadata"].get("name"))

    spec = ds["spec"]
    tmpl = spec["template"]
    sel = spec.get("selector", {}).get("matchLabels", {})
    labels = tmpl.get("metadata", {}).get("labels", {})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        bad("selector %r does not match the template's labels %r" % (sel, labels))
    pod = tmpl["spec"]
    if pod.get("hostNetwork") is not True:
        bad("hostNetwork is not true")
    if pod.get("dnsPolicy") != "ClusterFirstWithHostNet":
        bad("dnsPolicy is %r, not ClusterFirstWithHostNet" % pod.get("dnsPolicy"))
    if pod.get("priorityClassName") != "system-node-critical":
        bad("priorityClassName is %r, not system-node-critical" % pod.get("priorityClassName"))
    if not any(t == {"operator": "Exists"} for t in pod.get("tolerations", [])):
        bad("no toleration {operator: Exists} (every taint of every node)")
    if not isinstance(pod.get("terminationGracePeriodSeconds"), int):
        bad("no terminationGracePeriodSeconds")
    if pod.get("automountServiceAccountToken") is not False:
        bad("automountServiceAccountToken is not false (evio talks to no API server)")

    conts = pod.get("containers", [])
    if len(conts) != 1:
        bad("expected one container, found %d" % len(conts))
        return
    c = conts[0]

    m = re.search(r"^IMAGE \?= (\S+)", open(makefile).read(), re.M)
    if not m or c.get("image") != m.group(1):
        bad("image %r is not the one `make image` tags (%s)"
            % (c.get("image"), m.group(1) if m else "no IMAGE ?= in the Makefile"))

    sc = c.get("securityContext", {})
    if sc.get("privileged") is not False:
        bad("securityContext.privileged is %r, not false" % sc.get("privileged"))
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("securityContext.allowPrivilegeEscalation is %r, not false"
            % sc.get("allowPrivilegeEscalation"))
    seccomp = sc.get("seccompProfile") or pod.get("securityContext", {}).get("seccompProfile")
    if (seccomp or {}).get("type") != "RuntimeDefault":
        bad("seccompProfile is %r, not RuntimeDefault" % seccomp)
    caps = sc.get("capabilities", {})
    add = sorted(caps.get("add", []))
    if add != ["NET_ADMIN", "NET_RAW"]:
        bad("capabilities.add is %r, not exactly NET_ADMIN and NET_RAW" % add)
    if "NET_ADMIN" in caps.get("drop", []) or "NET_RAW" in caps.get("drop", []):
        bad("capabilities.drop names a capability evio needs: %r" % caps.get("drop"))

    # readiness: the image's own HEALTHCHECK command
    hc = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*?\])", open(dockerfile).read(), re.M | re.S)
    want = json.loads(hc.group(1)) if hc else None
    probe = c.get("readinessProbe", {}).get("exec", {}).get("command")
    if not want or probe != want:
        bad("readinessProbe exec %r is not the image's HEALTHCHECK %r" % (probe, want))

    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}

    def vol_at(path):
        m = mounts.get(path)
        if not m:
            return None
        return vols.get(m["name"])

    tun = vol_at("/dev/net/tun")
    if not tun or tun.get("hostPath", {}).get("path") != "/dev/net/tun" \
            or tun["hostPath"].get("type") != "CharDevice":
        bad("/dev/net/tun is not a hostPath CharDevice volume mounted at /dev/net/tun: %r" % tun)
    ep = open(entrypoint).read()
    m = re.search(r'"state_dir": "([^"]+)"', ep)
    state_dir = m.group(1) if m else None
    st = vol_at(state_dir) if state_dir else None
    if not st or st.get("hostPath", {}).get("type") != "DirectoryOrCreate" \
            or not st["hostPath"].get("path"):
        bad("the entrypoint's state_dir %r is not a hostPath DirectoryOrCreate volume: %r"
            % (state_dir, st))

    # env: from the ConfigMap and the pod spec
    cm_names = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
    env = {}
    for n in cm_names:
        cm = find(docs, "ConfigMap", n)
        if cm is None or cm["metadata"].get("namespace") != ns:
            bad("envFrom names ConfigMap %s, which the manifest does not define in %s" % (n, ns))
            continue
        env.update(cm.get("data", {}))
    for e in c.get("env", []):
        val = e.get("value")
        if val is not None:
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", val):
                if ref not in env:
                    bad("env %s refers to $(%s), not defined before it" % (e["name"], ref))
        env[e["name"]] = val if val is not None else e.get("valueFrom")
    if env.get("NODE_NAME") != {"fieldRef": {"fieldPath": "spec.nodeName"}}:
        bad("NODE_NAME is not the downward API's spec.nodeName: %r" % env.get("NODE_NAME"))
    user = env.get("EVIO_XMPP_USER")
    if not isinstance(user, str) or not user.endswith("/$(NODE_NAME)"):
        bad("EVIO_XMPP_USER %r does not end in /$(NODE_NAME) (one resource per node)" % user)
    if env.get("EVIO_ADDRESS") != "auto" or not env.get("EVIO_POOL"):
        bad("EVIO_ADDRESS is %r with EVIO_POOL %r, not auto with a pool"
            % (env.get("EVIO_ADDRESS"), env.get("EVIO_POOL")))
    if env.get("EVIO_KEEP_BRIDGE") != "true":
        bad("EVIO_KEEP_BRIDGE is %r, not \"true\": a pod stop would delete the bridge and "
            "flannel.1 with it" % env.get("EVIO_KEEP_BRIDGE"))
    if "EVIO_XMPP_PASSWORD" in env or "EVIO_TURN_PASSWORD" in env:
        bad("a password is given inline (EVIO_XMPP_PASSWORD/EVIO_TURN_PASSWORD): use the Secret's file")
    words = code_words(entrypoint)
    for name in sorted(env):
        if name.startswith("EVIO_") and name not in words:
            bad("%s is set, but the entrypoint does not read it" % name)

    # the passwords: files of a Secret volume, readable by root alone
    for var in ("EVIO_XMPP_PASSWORD_FILE", "EVIO_TURN_PASSWORD_FILE"):
        path = env.get(var)
        if var == "EVIO_TURN_PASSWORD_FILE" and path is None:
            continue
        if not isinstance(path, str) or "/" not in path:
            bad("%s is %r, not a path" % (var, path))
            continue
        d, key = path.rsplit("/", 1)
        m = mounts.get(d)
        v = vols.get(m["name"]) if m else None
        sec = v.get("secret") if v else None
        if not sec or not sec.get("secretName"):
            bad("%s: %s is not a mounted Secret volume" % (var, d))
            continue
        if not m.get("readOnly"):
            bad("%s: the Secret volume at %s is not readOnly" % (var, d))
        mode = sec.get("defaultMode")
        if not isinstance(mode, int) or mode & 0o077:
            bad("%s: Secret %s has defaultMode %r, readable by others (evio refuses it)"
                % (var, sec["secretName"], oct(mode) if isinstance(mode, int) else mode))
        if sec.get("items") and key not in [i.get("path") for i in sec["items"]]:
            bad("%s: Secret %s does not project key %s" % (var, sec["secretName"], key))


def check_flannel(rendered, backend, bridge):
    docs = docs_of(rendered)
    ds = find(docs, "DaemonSet", "kube-flannel-ds")
    if ds is None or ds["metadata"].get("namespace") != "kube-flannel":
        bad("no DaemonSet kube-flannel/kube-flannel-ds")
        return
    pod = ds["spec"]["template"]["spec"]
    iface = []
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        for a in c.get("args", []) + c.get("command", [])[1:]:
            if a.startswith("--iface"):
                iface.append((c["name"], a))
    if len(iface) != 1 or iface[0][0] != "kube-flannel":
        bad("expected one --iface/--iface-regex, on container kube-flannel; found %r" % iface)
    else:
        arg = iface[0][1]
        flanneld = [c for c in pod["containers"] if c["name"] == "kube-flannel"][0]
        for keep in ("--ip-masq", "--kube-subnet-mgr"):
            if keep not in flanneld.get("args", []):
                bad("upstream's %s is gone from kube-flannel's args" % keep)
        if arg.startswith("--iface-regex="):
            rx = re.compile(arg.split("=", 1)[1])
            if not rx.search(bridge):
                bad("%s does not match evio's bridge %s" % (arg, bridge))
            for other in ("eth0", "wlan0", "flannel.1", "cni0", "e0a1b2c3d", "veth12ab"):
                if rx.search(other):
                    bad("%s also matches %s, which is not evio's bridge" % (arg, other))
        elif arg != "--iface=" + bridge:
            bad("%s is not --iface=%s" % (arg, bridge))
    cm = find(docs, "ConfigMap", "kube-flannel-cfg")
    if cm is None or cm["metadata"].get("namespace") != "kube-flannel":
        bad("no ConfigMap kube-flannel/kube-flannel-cfg")
        return
    data = cm.get("data", {})
    if "cni-conf.json" not in data:
        bad("cni-conf.json is gone from kube-flannel-cfg")
    try:
        net = json.loads(data.get("net-conf.json", ""))
    except ValueError as e:
        bad("net-conf.json is not JSON: %s" % e)
        return
    if net.get("Network") != "10.244.0.0/16":
        bad("net-conf.json Network is %r, not 10.244.0.0/16 (doc/kubernetes.md's --pod-network-cidr)"
            % net.get("Network"))
    be = net.get("Backend", {})
    if be.get("Type") != backend:
        bad("net-conf.json Backend.Type is %r, not %s" % (be.get("Type"), backend))
    if backend == "vxlan" and (be.get("VNI", 1) != 1 or be.get("Port", 8472) != 8472):
        bad("vxlan VNI %r port %r: flannel.1 over evio is documented as VNI 1, port 8472"
            % (be.get("VNI"), be.get("Port")))


def check_kubelet(dropin):
    sect, keys = None, []
    with open(dropin) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                sect = line
                continue
            k, _, v = line.partition("=")
            keys.append((sect, k, v))

    def values(sect, key):
        return [v for s, k, v in keys if s == sect and k == key]

    for key in ("After", "Wants"):
        if "evio.service" not in " ".join(values("[Unit]", key)).split():
            bad("[Unit] %s= does not name evio.service" % key)
    for key in ("Requires", "BindsTo", "PartOf"):
        if "evio.service" in " ".join(values("[Unit]", key)).split():
            bad("[Unit] %s=evio.service: restarting evio would stop the kubelet" % key)
    pre = values("[Service]", "ExecStartPre")
    envf = [v.lstrip("-") for v in values("[Service]", "EnvironmentFile")]
    helper = [p.split() for p in pre if p.split() and p.split()[0].endswith("/evio-kubelet-env")]
    if len(helper) != 1:
        bad("no ExecStartPre running evio-kubelet-env: %r" % pre)
    elif helper[0][-1] not in envf:
        bad("evio-kubelet-env writes %s, which no EnvironmentFile= reads (%r)" % (helper[0][-1], envf))
    starts = values("[Service]", "ExecStart")
    if len(starts) != 2 or starts[0] != "":
        bad("ExecStart= must be reset, then given once: %r" % starts)
    else:
        words = starts[1].split()
        want = ["$KUBELET_KUBECONFIG_ARGS", "$KUBELET_CONFIG_ARGS", "$KUBELET_KUBEADM_ARGS",
                "$KUBELET_EXTRA_ARGS", "$EVIO_KUBELET_ARGS"]
        if words[0] != "/usr/bin/kubelet" or words[1:] != want:
            bad("ExecStart is not kubeadm's with $EVIO_KUBELET_ARGS last: %s" % starts[1])


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    what = sys.argv[1]
    if what == "daemonset" and len(sys.argv) == 6:
        check_daemonset(*sys.argv[2:])
    elif what == "flannel" and len(sys.argv) == 5:
        check_flannel(*sys.argv[2:])
    elif what == "kubelet" and len(sys.argv) == 3:
        check_kubelet(sys.argv[2])
    else:
        sys.exit(__doc__)
    for p in problems:
        print("%s: %s" % (what, p))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
