#!/usr/bin/env python3
"""Upload phase: POST pre-generated packages one at a time into a big repository.

Usage: upload.py --port P --repo R --data <bench-data dir> --max N --seconds S
                 --checks K --out result.json

- Concurrency 1 over one keep-alive connection (http.client), raw package body,
  as `curl --data-binary` or a CI job would send it.
- Bounded by count AND time: stops after --max uploads or once --seconds of upload
  time have been spent, whichever comes first, so it finishes even while every
  upload still re-renders a 65 MB index; the rate is reported with the count done.
- The rate is uploads / time spent in POSTs (request sent to response read). The
  sampled index checks below are excluded from it; reading the packages from disk
  happens before the clock starts.
- Checks (the SPEC's promise that a 201 means "already in the served index"): after
  the first upload, after about every (max/K)-th or (seconds/K)-th one, and after the
  last one, the very next requests on the connection are GET index.yaml without
  Accept-Encoding and with `Accept-Encoding: gzip`. Each answer must be 200, in the
  asked encoding, and list the uploaded name with the uploaded version and the
  sha256 of the uploaded bytes as its digest. With a 65 MB index that costs about a
  second, which is why it is a sample.
"""

import argparse
import gzip
import http.client
import json
import os
import re
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--data", required=True, help="bench data dir (manifest.json, uploads/)")
    ap.add_argument("--max", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--checks", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(os.path.join(args.data, "manifest.json")) as f:
        plan = json.load(f)["uploads"][: args.max]
    bodies = []
    for item in plan:  # read every package before the clock starts
        with open(os.path.join(args.data, "uploads", item["file"]), "rb") as f:
            bodies.append(f.read())

    conn = http.client.HTTPConnection(args.host, args.port, timeout=120)
    statuses, checks = {}, []
    post_seconds, done, kinds = 0.0, 0, {}
    every_n = max(1, args.max // args.checks)
    every_s = args.seconds / args.checks
    next_n, next_s = every_n, every_s
    wall_start = time.monotonic()
    for i, (item, body) in enumerate(zip(plan, bodies), start=1):
        t0 = time.perf_counter()
        conn.request("POST", f"/api/{args.repo}/charts", body=body,
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        answer = resp.read()
        post_seconds += time.perf_counter() - t0
        done = i
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        if resp.status != 201 and statuses[resp.status] <= 3:
            print(f"upload {item['file']}: {resp.status} {answer[:200]!r}", file=sys.stderr)
        last = i == len(plan) or post_seconds >= args.seconds
        if i == 1 or i >= next_n or post_seconds >= next_s or last:
            checks.append(check(conn, args.repo, item, i))
            while next_n <= i:
                next_n += every_n
            while next_s <= post_seconds:
                next_s += every_s
        if last:
            break

    result = {
        "attempted": done,
        "created": statuses.get(201, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "kinds": kinds,
        "post_seconds": round(post_seconds, 3),
        "rate_per_s": round(done / post_seconds, 2) if post_seconds else 0.0,
        "wall_seconds": round(time.monotonic() - wall_start, 1),
        "limit_max": args.max,
        "limit_seconds": args.seconds,
        "stopped_by": "count" if done == len(plan) else "time",
        "checks": checks,
        "checks_ok": bool(checks) and all(c["ok"] for c in checks),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"uploads: {result['created']}/{done} created (201) in {post_seconds:.1f} s of POSTs "
          f"= {result['rate_per_s']}/s; {sum(c['ok'] for c in checks)}/{len(checks)} index checks ok",
          file=sys.stderr)


def check(conn, repo, item, number):
    """GET the index in both encodings right after an upload; find the new version."""
    out = {"upload": number, "name": item["name"], "version": item["version"], "kind": item["kind"]}
    for encoding in ("identity", "gzip"):
        # skip_accept_encoding: http.client would otherwise add "Accept-Encoding: identity".
        conn.putrequest("GET", f"/{repo}/index.yaml", skip_accept_encoding=True)
        if encoding == "gzip":
            conn.putheader("Accept-Encoding", "gzip")
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        served = resp.getheader("Content-Encoding") or "identity"
        problem = None
        if resp.status != 200:
            problem = f"status {resp.status}"
        elif served != encoding:
            problem = f"Content-Encoding {served!r}, asked for {encoding}"
        else:
            if encoding == "gzip":
                body = gzip.decompress(body)
            problem = find_version(body.decode(), item["name"], item["version"], item["sha256"])
        out[encoding] = problem or "ok"
    out["ok"] = out["identity"] == "ok" and out["gzip"] == "ok"
    if not out["ok"]:
        print(f"index check after upload {number} failed: {out}", file=sys.stderr)
    return out


# The end of a chart's block: the next line indented by exactly two spaces (the next
# chart name) or by none (`generated:` after `entries:`).
BLOCK_END = re.compile(r"\n(?:  (?! |- )|(?! ))")


def find_version(text, name, version, sha256):
    """None when the index lists `name` with `version` and `digest: sha256`, else why not."""
    # Scalars may be written plain or quoted (ChartHall quotes any that starts with a digit).
    key = re.compile(r"\n  ['\"]?" + re.escape(name) + r"['\"]?:\n").search(text)
    if not key:
        return f"chart {name} not in the index"
    start = key.start()
    end = BLOCK_END.search(text, key.end() - 1)
    block = text[start: end.start() if end else len(text)]
    def field(key, value):  # a field of the entry: its first line or an indented one
        return re.compile(r"(?:^|\n    )" + key + r": ['\"]?" + re.escape(value) + r"['\"]?(?:\n|$)")

    version_line, digest_line = field("version", version), field("digest", sha256)
    for entry in block.split("\n  - ")[1:]:
        if version_line.search(entry):
            if digest_line.search(entry):
                return None
            return f"{name} {version} has another digest"
    return f"{name} has no version {version}"


if __name__ == "__main__":
    main()
