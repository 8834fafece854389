#!/usr/bin/env python3
"""Replicas on a bucket: what S3 storage costs and what it does not.

Usage: replicas.py --bin target/release/charthall --garage <garage binary>
                   --data <bench-data dir> [--runs 3] [--seconds 5]
                   [--server-cpus 1] [--load-cpus 0] [--out results.json]

Starts a 3-node Garage cluster (replication 3, consistent mode) and ChartHall four
times on 127.0.0.1: replicas A, B and C on one bucket (each through a different
node), and L on a local folder. Then, printing a Markdown table:

1. Uploads at concurrency 1: the bench's 200 small packages into A (bucket) and into L
   (folder), over one keep-alive connection each; uploads/s and the ratio.
2. Visibility: 60 more uploads spread over A, B, C; after each 201, the other two
   replicas are polled (GET /api/<repo>/charts/<name>/<version>, every 2 ms) until they
   list it; the time from the 201 to each replica listing it, p50 / p99 / max.
3. Index GETs: wrk -t2 -c100 on replica A and on L, both pinned to the same CPU,
   alternating, --runs runs of --seconds each, for the identity and the gzip index;
   medians and the ratio (bucket / folder). The hot path answers from memory, so the
   ratio should be 1 within noise.

Every process it starts listens on 127.0.0.1 and is stopped by its PID at the end.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from harness import ChartHall, free_port, pct, wait_port, wrk


class Garage:
    def __init__(self, binary, root, nodes=3):
        self.binary, self.root, self.procs, self.configs, self.ports = binary, root, [], [], []
        secret = os.urandom(32).hex()
        for i in range(nodes):
            home = os.path.join(root, f"node{i}")
            os.makedirs(home)
            s3, rpc = free_port(), free_port()
            config = os.path.join(home, "garage.toml")
            with open(config, "w") as f:
                f.write(
                    f'metadata_dir = "{home}/meta"\ndata_dir = "{home}/data"\ndb_engine = "sqlite"\n'
                    f'replication_factor = {nodes}\nconsistency_mode = "consistent"\n'
                    f'rpc_bind_addr = "127.0.0.1:{rpc}"\nrpc_public_addr = "127.0.0.1:{rpc}"\n'
                    f'rpc_secret = "{secret}"\n[s3_api]\napi_bind_addr = "127.0.0.1:{s3}"\ns3_region = "garage"\n'
                )
            log = open(os.path.join(home, "log"), "w")
            self.procs.append(subprocess.Popen([binary, "-c", config, "server"], stdout=log, stderr=log,
                                               env={**os.environ, "RUST_LOG": "warn"}))
            self.configs.append(config)
            self.ports.append(s3)
            wait_port(s3)
        ids = [self.cli(i, "node", "id", "-q").strip() for i in range(nodes)]
        for node_id in ids[1:]:
            self.cli(0, "node", "connect", node_id)
        for node_id in ids:
            self.cli(0, "layout", "assign", "-z", "dc1", "-c", "1G", node_id.split("@")[0])
        self.cli(0, "layout", "apply", "--version", "1")
        self.cli(0, "bucket", "create", "charts")
        key = self.cli(0, "key", "create", "bench")
        self.key_id = re.search(r"Key ID:\s*(\S+)", key).group(1)
        self.secret = re.search(r"Secret key:\s*(\S+)", key).group(1)
        self.cli(0, "bucket", "allow", "--read", "--write", "--owner", "charts", "--key", "bench")

    def cli(self, node, *args):
        deadline = time.time() + 20
        while True:
            done = subprocess.run([self.binary, "-c", self.configs[node], *args], capture_output=True, text=True)
            if done.returncode == 0:
                return done.stdout
            if time.time() > deadline:
                sys.exit(f"garage {args} failed: {done.stdout}{done.stderr}")
            time.sleep(0.2)

    def stop(self):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def upload_all(port, repo, bodies, concurrency=1):
    """Uploads `bodies` over `concurrency` connections, each sending its share one at a
    time; returns uploads per second."""
    failures = []

    def send(share):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in share:
            conn.request("POST", f"/api/{repo}/charts", body=body)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                failures.append(response.status)

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(bodies[i::concurrency],)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"uploads to {port} answered {failures[:5]}")
    return len(bodies) / (time.perf_counter() - started)


def visible(port, repo, name, version, since, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = since + 10
    while time.perf_counter() < deadline:
        conn.request("GET", f"/api/{repo}/charts/{name}/{version}")
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            out.append(time.perf_counter() - since)
            return
        time.sleep(0.002)
    out.append(float("inf"))


def chart(name, version):
    """A small valid package, built in memory."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: bench\n".encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def index_url(server):
    return f"http://127.0.0.1:{server.port}/small/index.yaml"


def gzip_header(encoding):
    return ["Accept-Encoding: gzip"] if encoding == "gzip" else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--garage", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--server-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--out")
    args = ap.parse_args()

    small = os.path.join(args.data, "repos", "small")
    bodies = [open(os.path.join(small, f), "rb").read() for f in sorted(os.listdir(small)) if f.endswith(".tgz")]
    root = tempfile.mkdtemp(prefix="charthall-replicas-")
    garage, servers = None, []
    try:
        print("== starting a 3-node Garage cluster", file=sys.stderr)
        garage = Garage(args.garage, root)
        bucket_env = lambda node: {
            "STORAGE": "amazon", "STORAGE_AMAZON_BUCKET": "charts", "STORAGE_AMAZON_REGION": "garage",
            "STORAGE_AMAZON_ENDPOINT": f"http://127.0.0.1:{garage.ports[node]}",
            "STORAGE_AMAZON_FORCE_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": garage.key_id, "AWS_SECRET_ACCESS_KEY": garage.secret,
        }
        replicas = [ChartHall(args.bin, root, args.server_cpus, bucket_env(i)) for i in range(3)]
        local = ChartHall(args.bin, root, args.server_cpus, {})
        servers = replicas + [local]

        print(f"== uploads at c1: {len(bodies)} packages into the bucket and into a folder", file=sys.stderr)
        rate_bucket = upload_all(replicas[0].port, "small", bodies)
        rate_local = upload_all(local.port, "small", bodies)
        print(f"== uploads at c8: {len(bodies)} more packages, each side", file=sys.stderr)
        more = [chart(f"many{i % 20}", f"2.0.{i}") for i in range(len(bodies))]
        rate_bucket_c8 = upload_all(replicas[0].port, "many", more, 8)
        rate_local_c8 = upload_all(local.port, "many", more, 8)

        print("== visibility across replicas: 60 uploads spread over A, B, C", file=sys.stderr)
        latencies = []
        for i in range(60):
            writer = replicas[i % 3]
            name, version = f"fresh{i % 10}", f"1.0.{i}"
            conn = http.client.HTTPConnection("127.0.0.1", writer.port, timeout=60)
            conn.request("POST", "/api/fresh/charts", body=chart(name, version))
            response = conn.getresponse()
            response.read()
            acked = time.perf_counter()
            if response.status != 201:
                sys.exit(f"upload answered {response.status}")
            pollers = [threading.Thread(target=visible, args=(r.port, "fresh", name, version, acked, latencies))
                       for r in replicas if r is not writer]
            for t in pollers:
                t.start()
            for t in pollers:
                t.join()

        results = {"uploads_per_s": {"bucket": rate_bucket, "folder": rate_local},
                   "uploads_c8_per_s": {"bucket": rate_bucket_c8, "folder": rate_local_c8},
                   "visibility_ms": {"p50": pct(latencies, 50) * 1000, "p99": pct(latencies, 99) * 1000,
                                     "max": max(latencies) * 1000, "samples": len(latencies)},
                   "index_get": {}}
        for encoding in ("identity", "gzip"):
            rates = {"bucket": [], "folder": []}
            for side, server in (("bucket", replicas[0]), ("folder", local)):
                wrk(index_url(server), 2, args.load_cpus, gzip_header(encoding))  # warm-up
            for run in range(args.runs):
                order = [("bucket", replicas[0]), ("folder", local)]
                if run % 2:
                    order.reverse()
                for side, server in order:
                    rate = wrk(index_url(server), args.seconds, args.load_cpus, gzip_header(encoding))
                    print(f"   {encoding} run {run + 1} {side}: {rate:,.0f} req/s", file=sys.stderr)
                    rates[side].append(rate)
            results["index_get"][encoding] = {side: statistics.median(v) for side, v in rates.items()}
    finally:
        for server in servers:
            server.stop()
        if garage:
            garage.stop()
        shutil.rmtree(root, ignore_errors=True)

    get = results["index_get"]
    vis = results["visibility_ms"]
    up = results["uploads_per_s"]
    print(f"| case | bucket (3 replicas, Garage) | folder | ratio |")
    print(f"|---|---|---|---|")
    for encoding in ("identity", "gzip"):
        b, f = get[encoding]["bucket"], get[encoding]["folder"]
        print(f"| GET /small/index.yaml {encoding}, c100 (req/s, median of {args.runs}) | {b:,.0f} | {f:,.0f} | {b / f:.2f} |")
    print(f"| uploads at c1 (per s, {len(bodies)} packages) | {up['bucket']:,.0f} | {up['folder']:,.0f} | {up['bucket'] / up['folder']:.2f} |")
    up8 = results["uploads_c8_per_s"]
    print(f"| uploads at c8 into one repository (per s) | {up8['bucket']:,.0f} | {up8['folder']:,.0f} | {up8['bucket'] / up8['folder']:.2f} |")
    print(f"| upload visible on another replica after the 201 (ms, {vis['samples']} samples) | "
          f"p50 {vis['p50']:.0f} / p99 {vis['p99']:.0f} / max {vis['max']:.0f} | — | — |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
