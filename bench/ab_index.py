#!/usr/bin/env python3
"""A/B of two ChartHall binaries on the hot path: index GETs of the same repository.

Usage: ab_index.py --a <binary> --b <binary> --data <bench-data dir> [--runs 5]
                   [--seconds 4] [--server-cpus 1] [--load-cpus 0]

Both servers serve a copy of the bench's 200-version repository (hard links), pinned to
the same CPU; wrk -t2 -c100 on the other CPU asks for the gzip index, then the identity
index, alternating A and B run by run (A B, B A, ...). Prints the medians and B / A.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

from harness import ChartHall, wrk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--server-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="charthall-ab-")
    servers = {}
    try:
        for side, binary in (("a", args.a), ("b", args.b)):
            data = os.path.join(root, f"data-{side}")
            os.makedirs(data)
            shutil.copytree(os.path.join(args.data, "repos", "small"), os.path.join(data, "small"),
                            copy_function=os.link)
            servers[side] = ChartHall(binary, root, args.server_cpus, {"STORAGE_LOCAL_ROOTDIR": data})
        results = {}
        for encoding, headers in (("gzip", ["Accept-Encoding: gzip"]), ("identity", [])):
            rates = {"a": [], "b": []}
            for side, server in servers.items():
                wrk(f"http://127.0.0.1:{server.port}/small/index.yaml", 2, args.load_cpus, headers)
            for run in range(args.runs):
                order = ["a", "b"] if run % 2 == 0 else ["b", "a"]
                for side in order:
                    url = f"http://127.0.0.1:{servers[side].port}/small/index.yaml"
                    rate = wrk(url, args.seconds, args.load_cpus, headers)
                    print(f"   {encoding} run {run + 1} {side}: {rate:,.0f} req/s", file=sys.stderr)
                    rates[side].append(rate)
            results[encoding] = {side: statistics.median(v) for side, v in rates.items()}
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"| GET /small/index.yaml, c100 (req/s, median of {args.runs}) | A | B | B / A |")
    print("|---|---|---|---|")
    for encoding, r in results.items():
        print(f"| {encoding} | {r['a']:,.0f} | {r['b']:,.0f} | {r['b'] / r['a']:.3f} |")


if __name__ == "__main__":
    main()
