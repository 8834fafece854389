#!/usr/bin/env python3
"""Turn the JSON files of one bench/run.sh run into the Markdown table (stdout).

Targets are the issue's; "Python" figures are the original Python ChartHall's,
measured on the same kind of data, for context only.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess


def load(path):
    with open(path) as f:
        return json.load(f)


def num(x, digits=0):
    return f"{x:,.{digits}f}"


def yes(ok):
    return "yes" if ok else "**NO**"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({model}), {mem_gb:.0f} GB RAM, Linux {platform.release()}"


def version_of(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        first = (p.stdout + p.stderr).strip().splitlines()[0]
        return first.split(" [")[0].replace("nginx version: ", "")  # "wrk debian/4.1.0-3+b2", "nginx/1.22.1"
    except (OSError, IndexError):
        return "?"


def main():
    ap = argparse.ArgumentParser()
    for name in ("results", "scale", "server-cpus", "load-cpus", "cache-glob", "nginx", "commit", "loadavg", "logs"):
        ap.add_argument(f"--{name}", required=True)
    for name in ("small-versions", "big-versions", "runs", "small-seconds", "big-seconds",
                 "warmup-seconds", "connections"):
        ap.add_argument(f"--{name}", type=int, required=True)
    a = ap.parse_args()
    R = a.results
    rows, notes = [], []
    big = num(a.big_versions)

    # Index GETs: median req/s per side over the measured runs (warm-ups excluded).
    cases = [
        ("small-identity", f"index GET, {a.small_versions} versions, identity, c{a.connections} (req/s; Python 333)"),
        ("small-gzip", f"index GET, {a.small_versions} versions, gzip, c{a.connections} (req/s; Python 333)"),
        ("big-gzip", f"index GET, {big} versions, gzip, c{a.connections} (req/s; Python 6)"),
    ]
    for case, label in cases:
        side = {}
        for s in ("charthall", "nginx"):
            runs = [load(p) for p in sorted(glob.glob(f"{R}/load-{case}-{s}-*.json"))]
            rps = [r["rps"] for r in runs]
            bad = [p for r in runs for p in r["problems"]]
            side[s] = (statistics.median(rps), min(rps), max(rps), bad, runs)
        ch, ng = side["charthall"], side["nginx"]
        ratio = ch[0] / ng[0] if ng[0] else 0.0
        checks_ok = not ch[3] and not ng[3]
        cell = lambda m: f"{num(m[0])} ({num(m[1])}–{num(m[2])})"
        rows.append([label, cell(ch), cell(ng), f"{ratio:.2f}", "≥ 0.90 × nginx",
                     yes(ratio >= 0.9 and checks_ok)])
        for s in ("charthall", "nginx"):
            for p in side[s][3]:
                notes.append(f"{case}, {s}: a run failed its check: {p}")

    # Gzip size against one `gzip -6` pass over the same identity bytes.
    uploads = load(f"{R}/uploads.json")
    for key, label in [("small", f"gzip size, {a.small_versions}-version index (bytes)"),
                       ("big", f"gzip size, {big}-version index (bytes)"),
                       ("big-after-uploads", f"gzip size, {big}-version index after {uploads['created']} uploads (bytes)")]:
        g = load(f"{R}/gzip-{key}.json")
        rows.append([label, f"{num(g['gzip_bytes'])} (identity {num(g['identity_bytes'])})", "—",
                     f"{g['ratio']:.3f}", f"≤ 1.02 × gzip -6 ({num(g['gzip6_bytes'])})",
                     yes(g["ratio"] <= 1.02 and g["decompresses_to_identity"])])
        if not g["decompresses_to_identity"]:
            notes.append(f"gzip-{key}: the gzip body does NOT decompress to the identity body")

    # Uploads.
    u = uploads
    all_201 = u["created"] == u["attempted"] and u["attempted"] > 0
    ok_checks = sum(c["ok"] for c in u["checks"])
    rows.append([f"uploads, concurrency 1, into {big} versions (uploads/s; Python 7.5)",
                 f"{num(u['rate_per_s'], 1)} ({u['created']}/{u['attempted']} → 201)", "—", "—",
                 "≥ 500/s, all 201, index checks pass",
                 yes(u["rate_per_s"] >= 500 and all_201 and u["checks_ok"])])
    stop = (f"all {u['attempted']} planned uploads done" if u["stopped_by"] == "count" else
            f"stopped by the time limit after {u['attempted']} of {u['limit_max']} uploads "
            f"({u['limit_seconds']:.0f} s of POSTs)")
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(u["kinds"].items()))
    notes.append(f"Uploads: {stop}; {kinds}; statuses {u['statuses']}; rate = uploads / time "
                 f"spent in POSTs ({u['post_seconds']} s), index checks excluded. Checked after "
                 f"{len(u['checks'])} sampled uploads (#{', #'.join(str(c['upload']) for c in u['checks'])}): "
                 f"the very next GET of the index without Accept-Encoding and with gzip answered 200 in "
                 f"that encoding and listed the name with the new version and the sha256 of the uploaded "
                 f"bytes as digest — {ok_checks}/{len(u['checks'])} passed.")
    for c in u["checks"]:
        if not c["ok"]:
            notes.append(f"Upload check #{c['upload']} {c['name']} {c['version']}: identity {c['identity']}, gzip {c['gzip']}")

    # Start-up.
    total = num(a.small_versions + a.big_versions)
    for kind, label, target in [("cold", f"start-up to serving all {total} versions, cold (s; Python 12)", 3.0),
                                ("cached", f"start-up to serving all {total} versions, with cache (s)", 1.0)]:
        runs = [load(p) for p in sorted(glob.glob(f"{R}/startup-{kind}-[0-9].json"))]
        secs = [r["seconds"] for r in runs]
        med = statistics.median(secs)
        cell = f"{med:.2f} ({min(secs):.2f}–{max(secs):.2f})"
        with_cache = sum(1 for r in runs if r.get("had_cache"))
        if kind == "cached" and with_cache < len(runs):
            cell += f" — `{a.cache_glob}` cache present in only {with_cache} of {len(runs)} runs"
        rows.append([label, cell, "—", "—", f"≤ {target:g} s", yes(med <= target)])
    peaks = {kind: [load(p)["peak_mb"] for p in glob.glob(f"{R}/startup-{kind}-*-rss.json")]
             for kind in ("cold", "cached")}

    # Memory.
    m = load(f"{R}/rss.json")
    rows.append(["RSS after the run (MB; Python 450)", num(m["rss_mb"]), "—", "—", "≤ 256 MB",
                 yes(m["rss_mb"] <= 256)])
    rows.append(["peak RSS of that process (VmHWM, MB)", num(m["peak_mb"]), "—", "—", "(shown)", "—"])
    if os.path.exists(f"{R}/rss-before-uploads.json"):
        before = load(f"{R}/rss-before-uploads.json")
        notes.append(f"RSS after the index GETs, before the uploads: {before['rss_mb']:,.0f} MB "
                     f"(peak so far {before['peak_mb']:,.0f} MB).")
    if peaks["cold"] and peaks["cached"]:
        notes.append(f"Peak RSS (VmHWM) of the start-up processes when ready: cold up to "
                     f"{max(peaks['cold']):,.0f} MB, with cache up to {max(peaks['cached']):,.0f} MB.")

    # Print.
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"ChartHall benchmark, {today}, scale {a.scale}, commit {a.commit}")
    print()
    print(f"Machine: {machine()}; load average around the index GETs (1, 5, 15 min): {a.loadavg}.")
    print()
    print("| metric | ChartHall | nginx | ratio | target | pass |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print(f"- Load: `wrk -t2 -c{a.connections}` ({version_of(['wrk', '--version'])}) on CPU {a.load_cpus}; "
          f"ChartHall and nginx ({version_of([a.nginx, '-v'])}, 2 workers, gzip_static) both pinned to CPU "
          f"{a.server_cpus}. Per side: one {a.warmup_seconds} s warm-up (discarded), then {a.runs} runs "
          f"alternating sides ({a.small_seconds} s small index, {a.big_seconds} s big index); cells are "
          f"median (min–max) req/s, ratio = median ChartHall / median nginx.")
    if a.logs == "on":
        print("- Request logs on both sides: ChartHall writes its line per request (to a file, through its "
              "writer thread) and counts /metrics; nginx writes its `combined` access log to a file with "
              "`buffer=64k flush=1s`.")
    else:
        print("- Request logs off on both sides (BENCH_LOGS=off): ChartHall with LOG_LEVEL=warn and "
              "DISABLE_METRICS=true, nginx with `access_log off`.")
    print("- nginx serves ChartHall's own bytes (fetched from it without and with Accept-Encoding: gzip). "
          "Before each case both servers' answers were compared byte for byte with those files and the "
          "Content-Encoding checked; every measured run had no socket errors, no non-2xx/3xx, and read "
          "exactly as many bytes as its count of complete responses of that size (plus at most one "
          "partial response per connection at the end).")
    print(f"- Start-up: spawn until /health answers and both indexes list every version (counted), "
          f"median of the runs, unpinned, page cache warm; cold = `{a.cache_glob}` removed from storage.")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
