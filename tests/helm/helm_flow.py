"""Drive the real Helm client (Helm 4.3 Go SDK via helm-sdkpy) for ChartHall's tests.

The `helm` binary cannot be downloaded on our build machines, but the PyPI
package helm-sdkpy bundles Helm's Go SDK as a shared library. The Rust
integration tests run this script as a subprocess with the python of the venv
made by tests/helm/setup-venv.sh, so that what they check is what real Helm
does against our server.

Every invocation uses its own Helm home: --home DIR (created if needed, kept;
reuse it for update-show), else a temp dir removed on exit. Exit status: 0 ok,
1 a Helm call failed (its error text on stderr), 3 --expect-version differs,
124 --timeout (default 120 s) elapsed. Subcommands:

  package CHART_DIR DEST_DIR
      Lint then Package; prints the .tgz path.
  repo-flow --url URL --name NAME --chart CHART [--username U --password P]
            [--expect-version V]
      RepoAdd, RepoUpdate, Show.chart("NAME/CHART") (downloads the package);
      prints {"added": true, "updated": true, "chart": {...}, "chart_yaml": "..."}.
  update-show --name NAME --chart CHART [--expect-version V]
      RepoUpdate + Show for a repo already added in the same --home (a second
      `repo add` of the same name fails: "repository NAME already exists").
  show-url URL [--username U --password P]
      Show.chart on a package URL; prints {"chart": {...}, "chart_yaml": "..."}.
      Show takes no credentials (nor uses a configured repo's), so they are
      put in the URL as user:pass@host; Go sends them as Basic auth.
  repo-add-only --url URL --name NAME [--username U --password P]
      RepoAdd only (does Helm accept this index?); prints {"added": true}.
  oci-push TGZ oci://HOST:PORT/REPO [--login HOST:PORT --username U --password P]
      Push of a packaged chart over plain HTTP; prints {"pushed": true, "result": ...}.
  oci-show REF [--login HOST:PORT --username U --password P] [--expect-version V]
      Show.chart("oci://HOST:PORT/REPO/CHART[:TAG]") over plain HTTP, after a
      RegistryLogin when --login is given; prints {"chart": {...}, "chart_yaml": "..."}.

Show cannot pick a version: it resolves the highest non-prerelease semver in
the index. Helm caches packages by index digest under the home, so a reused
--home does not download a package whose digest it has seen.

"chart" holds the top-level scalar fields of the Chart.yaml Show returned
(name, version, apiVersion, ...); "chart_yaml" is its raw text.
"""

import argparse
import atexit
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import urllib.parse
from urllib.parse import quote

EXIT_HELM = 1       # a Helm call failed
EXIT_MISMATCH = 3   # --expect-version differs
EXIT_TIMEOUT = 124  # --timeout elapsed


def make_home(home):
    """Point Helm at an isolated home. Must run before helm_sdkpy loads its
    Go library: the Go runtime copies the environment when it is loaded."""
    if not home:
        home = tempfile.mkdtemp(prefix="helm-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    home = os.path.abspath(home)
    env = {
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
    }
    os.environ.update(env)
    for k in list(os.environ):
        if k.startswith("HELM_"):
            del os.environ[k]
    helm_cfg = os.path.join(env["XDG_CONFIG_HOME"], "helm")
    os.makedirs(helm_cfg, exist_ok=True)
    repos = os.path.join(helm_cfg, "repositories.yaml")
    if not os.path.exists(repos):
        with open(repos, "w") as f:
            f.write('apiVersion: ""\nrepositories: []\n')
    return home


def chart_fields(text):
    """Top-level `key: scalar` lines of a Chart.yaml (enough for name/version;
    no PyYAML in the venv)."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] in " \t#-" or ":" not in line:
            continue
        key, _, val = line.partition(":")
        val = val.strip()
        if not val:
            continue
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        out[key.strip()] = val
    return out


def fail(step, err, code=EXIT_HELM):
    print(f"helm_flow: {step} failed: {err}", file=sys.stderr)
    sys.exit(code)


def call(step, coro):
    try:
        return asyncio.run(coro)
    except Exception as e:  # helm_sdkpy raises HelmError subclasses
        fail(step, f"{type(e).__name__}: {e}")


def creds(a):
    found = {"username": a.username, "password": a.password}
    for tls in ("cert_file", "key_file", "ca_file"):
        if getattr(a, tls, None):
            found[tls] = getattr(a, tls)
    return found


def show(h, cfg, ref, expect_version=None):
    text = call(f"show chart {ref}", h.Show(cfg).chart(ref))
    fields = chart_fields(text)
    if expect_version is not None and fields.get("version") != expect_version:
        print(json.dumps({"chart": fields, "chart_yaml": text}))
        fail("expect-version",
             f"shown version {fields.get('version')!r} != {expect_version!r}",
             EXIT_MISMATCH)
    return {"chart": fields, "chart_yaml": text}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", help="Helm home dir (default: fresh temp dir)")
    p.add_argument("--timeout", type=float, default=120,
                   help="abort with exit 124 after this many seconds")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("package")
    s.add_argument("chart_dir")
    s.add_argument("dest_dir")

    def repo_args(s):
        s.add_argument("--url", required=True)
        s.add_argument("--name", required=True)
        s.add_argument("--username")
        s.add_argument("--password")
        s.add_argument("--cert-file")
        s.add_argument("--key-file")
        s.add_argument("--ca-file")

    s = sub.add_parser("repo-flow")
    repo_args(s)
    s.add_argument("--chart", required=True)
    s.add_argument("--expect-version")

    s = sub.add_parser("update-show")
    s.add_argument("--name", required=True)
    s.add_argument("--chart", required=True)
    s.add_argument("--expect-version")

    s = sub.add_parser("repo-add-only")
    repo_args(s)

    s = sub.add_parser("oci-push")
    s.add_argument("tgz")
    s.add_argument("remote")
    s.add_argument("--login")
    s.add_argument("--username")
    s.add_argument("--password")

    s = sub.add_parser("oci-show")
    s.add_argument("ref")
    s.add_argument("--login")
    s.add_argument("--username")
    s.add_argument("--password")
    s.add_argument("--expect-version")

    s = sub.add_parser("show-url")
    s.add_argument("url")
    s.add_argument("--username")
    s.add_argument("--password")

    a = p.parse_args(argv)

    # Calls run in worker threads and cannot be cancelled: hard-exit instead.
    def on_alarm(*_):
        print(f"helm_flow: {a.cmd} timed out after {a.timeout}s", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.timeout)

    make_home(a.home)
    import helm_sdkpy as h  # only after make_home (see there)

    cfg = h.Configuration(plain_http=a.cmd.startswith("oci-"))

    if a.cmd == "package":
        lint = call("lint", h.Lint(cfg).run(a.chart_dir))
        # Severity: 1 info, 2 warning, 3 error
        errors = [m for m in (lint.get("Messages") or []) if m.get("Severity", 0) >= 3]
        if errors or lint.get("Errors"):
            fail("lint", json.dumps(lint))
        os.makedirs(a.dest_dir, exist_ok=True)
        path = call("package", h.Package(cfg).run(a.chart_dir, a.dest_dir))
        print(os.path.abspath(path))
    elif a.cmd == "repo-add-only":
        call("repo add", h.RepoAdd(cfg).run(a.name, a.url, **creds(a)))
        print(json.dumps({"added": True}))
    elif a.cmd == "repo-flow":
        call("repo add", h.RepoAdd(cfg).run(a.name, a.url, **creds(a)))
        call("repo update", h.RepoUpdate(cfg).run(a.name))
        out = {"added": True, "updated": True}
        out.update(show(h, cfg, f"{a.name}/{a.chart}", a.expect_version))
        print(json.dumps(out))
    elif a.cmd == "update-show":
        call("repo update", h.RepoUpdate(cfg).run(a.name))
        out = {"updated": True}
        out.update(show(h, cfg, f"{a.name}/{a.chart}", a.expect_version))
        print(json.dumps(out))
    elif a.cmd == "oci-push":
        if a.login:
            call("registry login", h.RegistryLogin(cfg).run(
                hostname=a.login, username=a.username or "", password=a.password or "", plain_http=True))
        result = call("push", h.Push(cfg).run(a.tgz, a.remote, plain_http=True))
        print(json.dumps({"pushed": True, "result": str(result)}))
    elif a.cmd == "oci-show":
        if a.login:
            call("registry login", h.RegistryLogin(cfg).run(
                hostname=a.login, username=a.username or "", password=a.password or "", plain_http=True))
        print(json.dumps(show(h, cfg, a.ref, a.expect_version)))
    elif a.cmd == "show-url":
        url = a.url
        if a.username or a.password:
            u = urllib.parse.urlsplit(url)
            cred = quote(a.username or "", safe="") + ":" + quote(a.password or "", safe="")
            url = urllib.parse.urlunsplit(u._replace(netloc=cred + "@" + u.netloc.rpartition("@")[2]))
        print(json.dumps(show(h, cfg, url)))


if __name__ == "__main__":
    main()
