#!/usr/bin/env python3
"""Runs evio's DaemonSet pod the way a kubelet would, with podman: reads
packaging/k8s/evio-daemonset.yaml and prints what a kubelet derives from it
for node NODE (no kubelet exists in Debian 12, so integration/k8s_daemonset_pod
starts the image with these).

  k8s_podman.py args DAEMONSET NODE HOSTNS OVERRIDES
      `podman run` arguments, NUL-separated: the host network (hostNetwork:
      the namespace HOSTNS), the securityContext's capabilities, no new
      privileges, the tun device, every hostPath and Secret volume mounted
      where the pod mounts it, and the environment as Kubernetes makes it
      (envFrom the ConfigMap, then env in order, $(VAR) expanded, NODE_NAME
      from spec.nodeName), then the image.
  k8s_podman.py probe DAEMONSET
      the readiness probe's command, NUL-separated.
  k8s_podman.py secret DAEMONSET
      the Secret volume's mount path and file mode (octal), one per line.

OVERRIDES (JSON) is what a deployment fills in: "config" replaces ConfigMap
values (its servers), "env" adds variables, "hostpaths" maps a hostPath to a
directory of the test, "secret_dir" is the directory holding the Secret's
files, "image" replaces the image. Anything in the pod spec this does not
know how to run is an error, not skipped.
"""
import json
import re
import sys

import yaml


def load(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    spec = ds["spec"]["template"]["spec"]
    if len(spec["containers"]) != 1:
        sys.exit("k8s_podman: expected one container, found %d" % len(spec["containers"]))
    return spec, spec["containers"][0], cms


def environment(c, cms, node, over):
    env = {}
    for ef in c.get("envFrom", []):
        name = ef["configMapRef"]["name"]
        if name not in cms:
            sys.exit("k8s_podman: envFrom names ConfigMap %s, not in the file" % name)
        data = dict(cms[name]["data"])
        for k, v in over.get("config", {}).items():
            if k not in data:
                sys.exit("k8s_podman: override of %s, which the ConfigMap does not set" % k)
            data[k] = v
        env.update(data)
    for e in c.get("env", []):
        if "valueFrom" in e:
            path = e["valueFrom"].get("fieldRef", {}).get("fieldPath")
            if path != "spec.nodeName":
                sys.exit("k8s_podman: cannot derive %s from %s" % (e["name"], e["valueFrom"]))
            env[e["name"]] = node
        else:
            # Kubernetes expands $(VAR) of variables defined before; others stay as written
            env[e["name"]] = re.sub(r"\$\((\w+)\)",
                                    lambda m: env.get(m.group(1), m.group(0)), e["value"])
    env.update(over.get("env", {}))
    return env


def run_args(spec, c, cms, node, hostns, over):
    if not spec.get("hostNetwork"):
        sys.exit("k8s_podman: the pod is not on the host network")
    args = ["--network", "ns:" + hostns]
    sc = c.get("securityContext", {})
    if sc.get("privileged"):
        sys.exit("k8s_podman: privileged")
    caps = sc.get("capabilities", {})
    for cap in caps.get("drop", []):
        args += ["--cap-drop", cap]
    for cap in caps.get("add", []):
        args += ["--cap-add", cap]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if sc.get("seccompProfile", {}).get("type", "RuntimeDefault") != "RuntimeDefault":
        sys.exit("k8s_podman: seccomp profile %s" % sc["seccompProfile"])
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = vols[m["name"]]
        ro = ":ro" if m.get("readOnly") else ""
        if "hostPath" in v and v["hostPath"].get("type") == "CharDevice":
            args += ["--device", "%s:%s" % (v["hostPath"]["path"], m["mountPath"])]
        elif "hostPath" in v:
            host = over["hostpaths"].get(v["hostPath"]["path"])
            if not host:
                sys.exit("k8s_podman: no test directory for hostPath %s" % v["hostPath"]["path"])
            args += ["-v", "%s:%s%s" % (host, m["mountPath"], ro)]
        elif "secret" in v:
            args += ["-v", "%s:%s%s" % (over["secret_dir"], m["mountPath"], ro)]
        else:
            sys.exit("k8s_podman: cannot mount volume %s" % v)
    for k, val in sorted(environment(c, cms, node, over).items()):
        args += ["-e", "%s=%s" % (k, val)]
    args.append(over.get("image", c["image"]))
    return args


def main():
    what, path = sys.argv[1], sys.argv[2]
    spec, c, cms = load(path)
    if what == "args":
        node, hostns, over = sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
        out = run_args(spec, c, cms, node, hostns, over)
    elif what == "probe":
        out = c["readinessProbe"]["exec"]["command"]
    elif what == "secret":
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        m = next(m for m in c["volumeMounts"] if "secret" in vols[m["name"]])
        print(m["mountPath"])
        print("%o" % vols[m["name"]]["secret"].get("defaultMode", 0o644))
        return
    else:
        sys.exit("k8s_podman: args, probe or secret")
    sys.stdout.write("\0".join(out) + "\0")


if __name__ == "__main__":
    main()
