#!/usr/bin/python3
"""Checks packaging/kubernetes/sniproxy.yaml: every document parses and the
DaemonSet has what running sniproxy on a node needs.

usage: k8s_check.py YAML [SNIPROXY]
With SNIPROXY, the ConfigMap's proxy.toml is also validated by
`SNIPROXY --check`, so the shipped config cannot rot.

/usr/bin/python3 on purpose: python3-yaml installs into Debian's python.
"""
import os
import subprocess
import sys
import tempfile
import tomllib

try:
    import yaml
except ImportError:  # python3-yaml comes with the project's dependencies
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    subprocess.run([os.path.join(root, "scripts", "install-deps.sh")], check=True)
    import yaml

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def main():
    path = sys.argv[1]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    by_kind = {}
    for d in docs:
        check(isinstance(d, dict) and "kind" in d and "apiVersion" in d, f"document without kind/apiVersion: {d!r}")
        by_kind.setdefault(d.get("kind"), []).append(d)
    check(len(by_kind.get("ConfigMap", [])) == 1, "one ConfigMap")
    check(len(by_kind.get("DaemonSet", [])) == 1, "one DaemonSet")
    if failures:
        return
    cm = by_kind["ConfigMap"][0]
    ds = by_kind["DaemonSet"][0]
    check(ds["apiVersion"] == "apps/v1", "DaemonSet apiVersion apps/v1")
    check(cm["metadata"].get("namespace") == ds["metadata"].get("namespace"), "ConfigMap and DaemonSet in one namespace")

    toml_text = cm["data"]["proxy.toml"]
    config = tomllib.loads(toml_text)
    check(config.get("admin", {}).get("listen") == "127.0.0.1:9090", "[admin] listen = 127.0.0.1:9090")
    check(config.get("process", {}).get("user") == "sniproxy", "[process] user = sniproxy")
    check(len(config.get("listener", [])) >= 1, "at least one [[listener]]")

    spec = ds["spec"]
    check(spec["updateStrategy"]["type"] == "RollingUpdate", "updateStrategy RollingUpdate")
    tmpl = spec["template"]
    check(spec["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(), "selector matches the pod labels")
    ann = tmpl["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true", "annotation prometheus.io/scrape \"true\"")
    check(ann.get("prometheus.io/port") == "9090", "annotation prometheus.io/port \"9090\"")
    check(ann.get("prometheus.io/path") == "/metrics", "annotation prometheus.io/path /metrics")
    pod = tmpl["spec"]
    check(pod.get("hostNetwork") is True, "hostNetwork: true")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy ClusterFirstWithHostNet")
    check(len(pod["containers"]) == 1, "one container")
    c = pod["containers"][0]
    args = c.get("args", []) + c.get("command", [])
    check("--config" in args and "/etc/sniproxy/proxy.toml" in args, "runs --config /etc/sniproxy/proxy.toml")

    sc = c["securityContext"]
    caps = sc["capabilities"]
    check(caps.get("drop") == ["ALL"], "capabilities drop [ALL]")
    added = set(caps.get("add", []))
    for need in ("NET_ADMIN", "BPF", "PERFMON", "NET_BIND_SERVICE"):
        check(need in added, f"capabilities add {need}")
    check(added <= {"NET_ADMIN", "BPF", "PERFMON", "NET_BIND_SERVICE", "SETUID", "SETGID"}, f"no capability beyond what the proxy needs: {sorted(added)}")
    check(sc.get("privileged") in (None, False), "not privileged")
    # A seccomp profile chosen, not inherited from kubelet's defaults; with
    # RuntimeDefault io_uring is blocked, so the config must let auto fall
    # back to epoll rather than insist on io_uring.
    profile = sc.get("seccompProfile", {}).get("type")
    check(profile in ("RuntimeDefault", "Unconfined", "Localhost"), f"seccompProfile set: {profile}")
    if profile == "RuntimeDefault":
        check(config.get("reactor", {}).get("backend", "auto") != "io_uring",
              "RuntimeDefault blocks io_uring: [reactor] backend must not be io_uring")
    ns = by_kind.get("Namespace", [{}])[0]
    check(ns.get("metadata", {}).get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
          "the namespace enforces Pod Security level privileged (hostNetwork, added capabilities)")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    # Root in the container only because Kubernetes gives added capabilities
    # to root alone; then the proxy must drop to its own user.
    if sc.get("runAsUser", 0) == 0:
        check({"SETUID", "SETGID"} <= added, "SETUID+SETGID to switch to [process] user")

    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in mounts.values():
        check(m["name"] in volumes, f"volume {m['name']} defined")
    cfg = mounts.get("/etc/sniproxy")
    check(cfg is not None and volumes.get(cfg["name"], {}).get("configMap", {}).get("name") == cm["metadata"]["name"],
          "the ConfigMap mounted at /etc/sniproxy")
    for host in ("/lib/modules", "/usr/src"):
        m = mounts.get(host)
        check(m is not None and m.get("readOnly") is True, f"{host} mounted read-only")
        if m is not None:
            check(volumes.get(m["name"], {}).get("hostPath", {}).get("path") == host, f"{host} is the node's (hostPath)")

    probe = c.get("readinessProbe", {}).get("httpGet", {})
    check(probe.get("path") == "/status" and probe.get("port") == 9090, "readiness probe GET /status on 9090")
    # hostNetwork: kubelet's loopback is the pod's, and the endpoint listens there.
    check(probe.get("host") == "127.0.0.1", "readiness probe to 127.0.0.1")
    req = c.get("resources", {}).get("requests", {})
    check("cpu" in req and "memory" in req, "resource requests for cpu and memory")

    if len(sys.argv) > 2:
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "proxy.toml")
            with open(p, "w") as f:
                f.write(toml_text)
            r = subprocess.run([sys.argv[2], "--check", "--config", p], capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"sniproxy --check of the ConfigMap's proxy.toml: {r.stdout}{r.stderr}")


if __name__ == "__main__":
    try:
        main()
    except (KeyError, TypeError, yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        failures.append(f"{type(e).__name__}: {e}")
    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        sys.exit(1)
    print("kubernetes manifest ok")
