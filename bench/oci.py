#!/usr/bin/env python3
"""OCI pulls: ChartHall against Debian's docker-registry serving the same chart.

Usage: oci.py --bin target/release/charthall --package <chart .tgz>
              [--runs 3] [--seconds 5] [--server-cpus 1] [--load-cpus 0]

Starts ChartHall (a fresh folder) and docker-registry (a fresh folder, no auth, the
in-memory blob descriptor cache of Debian's default configuration), both
on --server-cpus, uploads the package to ChartHall over HTTP, copies it into the
registry with skopeo (so both serve the very same manifest bytes), then drives
wrk -t2 -c100 on --load-cpus against each: the manifest by tag (with an OCI Accept
header, as Helm sends it) and the chart layer blob. Runs alternate between the two,
--runs each, medians and the ratio ChartHall / registry. Both log every request
(ChartHall its request lines, the registry its access log), both to files.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

from harness import ChartHall, free_port, wait_port, wrk

ACCEPT = "Accept: application/vnd.oci.image.manifest.v1+json"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--server-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="charthall-oci-")
    charthall, registry = None, None
    try:
        charthall = ChartHall(args.bin, root, args.server_cpus, {})
        body = open(args.package, "rb").read()
        request = urllib.request.Request(f"http://127.0.0.1:{charthall.port}/api/small/charts", data=body, method="POST")
        urllib.request.urlopen(request).read()
        index = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{charthall.port}/api/small/charts").read())
        (chart, versions), = index.items()
        version = versions[0]["version"]
        layer = f"sha256:{versions[0]['digest']}"

        port = free_port()
        config = os.path.join(root, "registry.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  cache:\n    blobdescriptor: inmemory\n"
                    f"  filesystem:\n    rootdirectory: {root}/registry\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        log = open(os.path.join(root, "registry.log"), "w")
        registry = subprocess.Popen(["taskset", "-c", args.server_cpus, "docker-registry", "serve", config],
                                    stdout=log, stderr=log)
        wait_port(port, 30, registry, log.name)
        tag = version.replace("+", "_")
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                        f"docker://127.0.0.1:{charthall.port}/small/{chart}:{tag}",
                        f"docker://127.0.0.1:{port}/small/{chart}:{tag}"], check=True, capture_output=True)

        sides = {"charthall": charthall.port, "registry": port}
        cases = {
            "manifest": (f"/v2/small/{chart}/manifests/{tag}", [ACCEPT]),
            "blob": (f"/v2/small/{chart}/blobs/{layer}", []),
        }
        # Both serve the same manifest bytes.
        served = {}
        for side, p in sides.items():
            req = urllib.request.Request(f"http://127.0.0.1:{p}{cases['manifest'][0]}", headers={"Accept": ACCEPT[8:]})
            served[side] = urllib.request.urlopen(req).read()
        if served["charthall"] != served["registry"]:
            sys.exit("the two servers answer different manifests")
        results = {}
        for case, (path, headers) in cases.items():
            rates = {side: [] for side in sides}
            for side, p in sides.items():
                wrk(f"http://127.0.0.1:{p}{path}", 2, args.load_cpus, headers)  # warm-up
            for run in range(args.runs):
                order = list(sides.items())
                if run % 2:
                    order.reverse()
                for side, p in order:
                    rate = wrk(f"http://127.0.0.1:{p}{path}", args.seconds, args.load_cpus, headers)
                    print(f"   {case} run {run + 1} {side}: {rate:,.0f} req/s", file=sys.stderr)
                    rates[side].append(rate)
            results[case] = {side: statistics.median(v) for side, v in rates.items()}
    finally:
        if charthall:
            charthall.stop()
        if registry:
            registry.kill()
            registry.wait()
        shutil.rmtree(root, ignore_errors=True)

    print(f"| GET, c100 (req/s, median of {args.runs}) | ChartHall | docker-registry | ratio |")
    print("|---|---|---|---|")
    for case, label in (("manifest", "manifest by tag"), ("blob", f"chart layer blob ({len(body):,} bytes)")):
        c, r = results[case]["charthall"], results[case]["registry"]
        print(f"| {label} | {c:,.0f} | {r:,.0f} | {c / r:.2f} |")


if __name__ == "__main__":
    main()
