"""Lint, package and render ChartHall's own Helm chart (deploy/helm/charthall) with the
real Helm client (Helm 4.3 Go SDK via helm-sdkpy), for tests/deploy_chart.rs.

helm-sdkpy has no `helm template` and no dry-run: its Install talks to a cluster. So
`render` runs a real Helm Install against a tiny stand-in Kubernetes API server on
127.0.0.1 that answers discovery, knows no objects, and records every object Helm
creates. What Helm sends there is what a cluster would receive: the rendered manifests,
after Helm's own parsing and checks.

Lint takes no values (helm-sdkpy's Lint reads the chart's values.yaml only); its
messages carry a severity and a path but no text (the Go error serialises as {}).

Usage (the python of tests/helm/setup-venv.sh):
  deploy_chart.py lint CHART_DIR
      prints {"messages": [{"severity": 1|2|3, "path": "..."}], "errors": N}
  deploy_chart.py package CHART_DIR DEST_DIR
      prints {"path": "<DEST_DIR>/<name>-<version>.tgz"}
  deploy_chart.py render CHART_DIR [--values JSON] [--set NAME=VALUE ...]
                  [--release NAME] [--namespace NS] [--existing JSON]
      (--set as `helm install --set` takes it, applied over --values; see set_value)
      prints {"objects": [<each object Helm created, as JSON>], "requests": [...],
              "notes": "<NOTES.txt as rendered>", "status": "deployed", "manifest": "..."}
Exit status: 0 ok, 1 a Helm call failed (its error text on stderr), 2 a bad --set,
124 timeout.
"""

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helm_flow import call, fail, make_home  # noqa: E402  (one way to isolate a Helm home, one way to report a failed call)

EXIT_TIMEOUT = 124

# What the stand-in API server serves: kind, resource and group/version of everything
# the chart (and Helm's release storage, Secrets) may touch.
RESOURCES = {
    "v1": [
        ("Secret", "secrets"),
        ("ConfigMap", "configmaps"),
        ("Service", "services"),
        ("PersistentVolumeClaim", "persistentvolumeclaims"),
        ("ServiceAccount", "serviceaccounts"),
        ("Pod", "pods"),
    ],
    "apps/v1": [("Deployment", "deployments"), ("StatefulSet", "statefulsets")],
    "networking.k8s.io/v1": [("Ingress", "ingresses")],
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def resource_list(group_version):
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": True,
             "kind": kind, "verbs": VERBS}
            for kind, plural in RESOURCES[group_version]
        ],
    }


def group_list():
    groups = []
    for gv in RESOURCES:
        if "/" not in gv:
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class FakeApi(BaseHTTPRequestHandler):
    """A Kubernetes API server that holds nothing and accepts every object."""

    created = []  # objects Helm POSTed, in order (shared by the handler threads)
    existing = {}  # (plural, name) -> object the cluster already holds (--existing)
    requests = []  # "METHOD path" of every request
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        """The request's object when it is JSON; None for protobuf, which client-go's
        typed clients send (Helm's release records, Secrets we need not read)."""
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "json" not in (self.headers.get("Content-Type") or ""):
            return None
        return json.loads(data or b"{}")

    def stand_in(self):
        """An object to answer a protobuf request with: client-go reads JSON too."""
        return {"kind": "Secret", "apiVersion": "v1", "type": "helm.sh/release.v1",
                "metadata": {"name": "release", "resourceVersion": "1"}}

    def record(self):
        with self.lock:
            self.requests.append(f"{self.command} {self.path}")

    def not_found(self, path):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        self.answer(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "reason": "NotFound", "code": 404,
                          "message": f"{name} not found", "details": {"name": name}})

    def do_GET(self):
        self.record()
        path = urlsplit(self.path).path
        if path == "/version":
            return self.answer(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0",
                                     "platform": "linux/amd64"})
        if path == "/api":
            return self.answer(200, {"kind": "APIVersions", "versions": ["v1"],
                                     "serverAddressByClientCIDRs": [
                                         {"clientCIDR": "0.0.0.0/0",
                                          "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self.answer(200, group_list())
        if path == "/api/v1":
            return self.answer(200, resource_list("v1"))
        if path.startswith("/apis/") and path[len("/apis/"):] in RESOURCES:
            return self.answer(200, resource_list(path[len("/apis/"):]))
        # A list (Helm's release storage asks for its Secrets by label): empty.
        # A single object (…/namespaces/NS/PLURAL/NAME): not found.
        parts = path.strip("/").split("/")
        if "namespaces" in parts and len(parts) - parts.index("namespaces") == 3:
            kind = parts[-1].capitalize() + "List"
            return self.answer(200, {"kind": kind, "apiVersion": "v1",
                                     "metadata": {"resourceVersion": "1"}, "items": []})
        if len(parts) >= 2 and (parts[-2], parts[-1]) in self.existing:
            return self.answer(200, self.existing[(parts[-2], parts[-1])])
        return self.not_found(path)

    def do_POST(self):
        self.record()
        obj = self.body()
        if obj is None:
            return self.answer(201, self.stand_in())
        with self.lock:
            self.created.append(json.loads(json.dumps(obj)))
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{len(self.created)}")
        meta.setdefault("resourceVersion", str(len(self.created)))
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.answer(201, obj)

    def do_PUT(self):
        self.record()
        obj = self.body()
        if obj is None:
            return self.answer(200, self.stand_in())
        obj.setdefault("metadata", {})["resourceVersion"] = "1000"
        self.answer(200, obj)

    def do_PATCH(self):
        """An update of an object the cluster holds (Helm adopts what it owns): answer
        the object as it is; a patch of anything else: not found."""
        self.record()
        self.body()
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) >= 2 and (parts[-2], parts[-1]) in self.existing:
            return self.answer(200, self.existing[(parts[-2], parts[-1])])
        self.not_found(urlsplit(self.path).path)

    def do_DELETE(self):
        self.record()
        self.not_found(urlsplit(self.path).path)


def set_value(values, assignment):
    """Applies one `--set NAME=VALUE` to `values` as `helm install --set` does for a
    single dotted name: maps are made along the path, and the value is typed as Helm's
    strvals types it (true/false a bool, null nothing, a whole number an int, anything
    else a string). Lists and comma-separated assignments are not supported."""
    name, sep, raw = assignment.partition("=")
    if not sep or not name:
        fail("set", f"--set wants NAME=VALUE, not {assignment!r}", code=2)
    if "," in assignment or "[" in name:
        fail("set", f"--set {assignment!r}: lists and commas are not supported here", code=2)
    if raw in ("true", "false"):
        value = raw == "true"
    elif raw == "null":
        value = None
    elif re.fullmatch(r"-?(0|[1-9][0-9]*)", raw):
        value = int(raw)
    else:
        value = raw
    *path, last = name.split(".")
    node = values
    for key in path:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


def kubeconfig(url, namespace):
    return f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
contexts:
- name: fake
  context:
    cluster: fake
    namespace: {namespace}
    user: fake
current-context: fake
users:
- name: fake
  user:
    token: fake
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("lint")
    s.add_argument("chart_dir")
    s = sub.add_parser("package")
    s.add_argument("chart_dir")
    s.add_argument("dest_dir")
    s = sub.add_parser("render")
    s.add_argument("chart_dir")
    s.add_argument("--values", default="{}", help="values as a JSON object")
    s.add_argument("--set", action="append", default=[], dest="set_values",
                   metavar="NAME=VALUE", help="one value, as helm install --set takes it")
    s.add_argument("--release", default="charthall")
    s.add_argument("--namespace", default="charts")
    s.add_argument("--existing", default="[]",
                   help="objects the cluster already holds, as a JSON list")
    a = p.parse_args(argv)

    # Helm calls run in worker threads and cannot be cancelled: hard-exit instead.
    def on_alarm(*_):
        print(f"deploy_chart: {a.cmd} timed out after {a.timeout}s", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.timeout)

    make_home(None)
    import helm_sdkpy as h  # only after make_home (see there)

    if a.cmd == "lint":
        lint = call("lint", h.Lint(h.Configuration()).run(a.chart_dir))
        messages = [{"severity": m.get("Severity"), "path": m.get("Path")}
                    for m in (lint.get("Messages") or [])]
        print(json.dumps({"messages": messages, "errors": len(lint.get("Errors") or [])}))
    elif a.cmd == "package":
        os.makedirs(a.dest_dir, exist_ok=True)
        path = call("package", h.Package(h.Configuration()).run(a.chart_dir, a.dest_dir))
        print(json.dumps({"path": os.path.abspath(path)}))
    elif a.cmd == "render":
        server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(kubeconfig(url, a.namespace))
        cfg = h.Configuration(namespace=a.namespace, kubeconfig=f.name)
        values = json.loads(a.values)
        for assignment in a.set_values:
            set_value(values, assignment)
        for obj in json.loads(a.existing):
            plural = next(p for kinds in RESOURCES.values() for k, p in kinds
                          if k == obj["kind"])
            FakeApi.existing[(plural, obj["metadata"]["name"])] = obj
        release = call("install", h.Install(cfg).run(a.release, a.chart_dir, values=values,
                                                     wait=False, timeout=30))
        os.unlink(f.name)
        print(json.dumps({"objects": FakeApi.created, "requests": FakeApi.requests,
                          "notes": release.get("info", {}).get("notes", ""),
                          "status": release.get("info", {}).get("status", ""),
                          "manifest": release.get("manifest", "")}))


if __name__ == "__main__":
    main()
