#!/usr/bin/env python3
"""Small measurements run.sh needs, each writing one JSON file into the results dir.

  probe.py ready --port P --since <epoch s> --expect REPO=N [...] --out F
      Start-up time: from --since (just before the server was spawned) until
      GET /health answers 200 and every listed repository's index holds N versions.
      The time is that of the /health answer when the index fetched right after it
      is complete (the server only listens once storage is indexed); otherwise the
      time at which the first complete index fetch was sent. Versions are counted as
      `digest:` lines of the identity index.
  probe.py gzip-size --identity F --gzip F --out F
      Checks that the served gzip body decompresses to exactly the identity body,
      and compares its size with one `gzip -6` pass over the identity bytes.
  probe.py wrk --result F --body-bytes N --header-bytes N --connections C --out F
      Reads the line our wrk Lua `done` hook printed and checks it: no socket
      errors, no non-2xx/3xx, and the bytes read are what `requests` complete
      responses of the expected size add up to (see check_bytes).
  probe.py rss --pid P --out F
      VmRSS (now) and VmHWM (peak) from /proc/<pid>/status, in MB.
"""

import argparse
import gzip
import http.client
import json
import subprocess
import sys
import time


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def get(port, path, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def ready(args):
    expect = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in args.expect)
    deadline = time.time() + args.timeout
    health_at = None
    while time.time() < deadline:
        sent = time.time()
        try:
            if health_at is None:
                status, _ = get(args.port, "/health", timeout=5)
                if status == 200:
                    health_at = time.time()
                    continue
            else:
                counts = {}
                for repo in expect:
                    status, body = get(args.port, f"/{repo}/index.yaml")
                    counts[repo] = body.count(b"\n    digest: ") if status == 200 else -1
                if counts == expect:
                    # Complete on the first fetch after /health: ready when /health answered.
                    at = health_at if args._first_fetch else sent
                    write(args.out, {"seconds": round(at - args.since, 3), "versions": counts})
                    print(f"ready after {at - args.since:.2f} s: {counts}", file=sys.stderr)
                    return
                args._first_fetch = False
                if any(counts[r] > expect[r] for r in expect):
                    sys.exit(f"probe ready: more versions than expected: {counts} vs {expect}")
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.01)
    sys.exit(f"probe ready: server on port {args.port} not ready within {args.timeout} s")


def gzip_size(args):
    with open(args.identity, "rb") as f:
        identity = f.read()
    with open(args.gzip, "rb") as f:
        served = f.read()
    same = gzip.decompress(served) == identity
    # One pass of the real gzip tool, as a user would compress the file (-n: no name/time).
    reference = len(subprocess.run(["gzip", "-6", "-n", "-c"], input=identity,
                                   stdout=subprocess.PIPE, check=True).stdout)
    write(args.out, {"identity_bytes": len(identity), "gzip_bytes": len(served),
                     "gzip6_bytes": reference, "ratio": round(len(served) / reference, 4),
                     "decompresses_to_identity": same})
    if not same:
        print(f"gzip body {args.gzip} does NOT decompress to {args.identity}", file=sys.stderr)


def check_bytes(r, body, header, conns, slack=64):
    """Every complete response is header+body bytes; wrk also counts the partly read
    responses still in flight when the clock stops (at most one per connection). So
    requests*size <= bytes <= (requests+connections)*size, with a little slack for
    headers whose length can vary by a few bytes (Date is fixed-width, ETag not)."""
    low = r["requests"] * (body + header - slack)
    high = (r["requests"] + conns) * (body + header + slack)
    return low <= r["bytes"] <= high, low, high


def wrk(args):
    r = None
    with open(args.result) as f:
        for line in f:
            if line.startswith("WRK_RESULT "):
                r = json.loads(line[len("WRK_RESULT "):])
    if r is None:
        sys.exit(f"probe wrk: no WRK_RESULT line in {args.result}")
    r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6), 1)
    problems = []
    errors = {k: r[k] for k in ("connect", "read", "write", "timeout", "status") if r[k]}
    if errors:
        problems.append(f"errors {errors}")
    if r["requests"] == 0:
        problems.append("no complete response")
    ok, low, high = check_bytes(r, args.body_bytes, args.header_bytes, args.connections)
    r["bytes_per_response"] = round(r["bytes"] / r["requests"]) if r["requests"] else 0
    r["expected_bytes_per_response"] = args.body_bytes + args.header_bytes
    if not ok:
        problems.append(f"read {r['bytes']} bytes, expected {low}..{high} for "
                        f"{r['requests']} responses of {args.body_bytes}+{args.header_bytes}")
    r["ok"] = not problems
    r["problems"] = problems
    write(args.out, r)
    print(f"  {r['rps']:>10} req/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
          f"{r['bytes_per_response']} B/resp  {'ok' if ok and not problems else 'FAIL ' + '; '.join(problems)}",
          file=sys.stderr)


def rss(args):
    fields = {}
    with open(f"/proc/{args.pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)  # kB -> MB
    write(args.out, {"rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]})


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ready")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--since", type=float, required=True)
    p.add_argument("--expect", nargs="+", required=True)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=ready, _first_fetch=True)
    p = sub.add_parser("gzip-size")
    p.add_argument("--identity", required=True)
    p.add_argument("--gzip", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=gzip_size)
    p = sub.add_parser("wrk")
    p.add_argument("--result", required=True)
    p.add_argument("--body-bytes", type=int, required=True)
    p.add_argument("--header-bytes", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=wrk)
    p = sub.add_parser("rss")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=rss)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
