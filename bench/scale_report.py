#!/usr/bin/env python3
"""Turn bench/scale.sh's JSON files into one Markdown table, the scales side by side.

Usage: scale_report.py --out target/bench-scale --scales full million --commit C ...

Reads <out>/<scale>/results/ for every scale; the targets are issue 19's, at a million
versions. Cells with two runs show both (`a / b`); the pass column judges the median
(with two runs, their mean) unless said otherwise.
"""

import argparse
import datetime
import glob
import os
import re
import statistics

from report import load, machine, num, version_of, yes

TARGET_SCALE = "million"


def mb(n):
    return n / 1e6


def runs(results, pattern):
    return [load(p) for p in sorted(glob.glob(os.path.join(results, pattern)))]


def both(values, fmt):
    return " / ".join(fmt(v) for v in values) if values else "—"


# A ChartHall log line: `2026-12-03T10:00:00.123456Z  INFO target: message key=value ...`
LINE = re.compile(r"^(\S+)\s+(\w+)\s+(\S+?):\s+(.*)$")


def phases(log_path):
    """The start-up lines the server logs, as (epoch seconds, message, fields), up to `serving`."""
    out = []
    if not os.path.exists(log_path):
        return out
    with open(log_path, errors="replace") as f:
        for line in f:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip("\n"))
            m = LINE.match(line)
            if not m:
                continue
            try:
                at = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            rest = m.group(4)
            fields = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', rest)}
            message = re.split(r"\s\w+=", rest, maxsplit=1)[0].strip()
            out.append((at, message, fields))
            if message == "serving":
                break
    return out


# The start-up log lines a phase summary names, each as it words them.
PHASES = {
    "read packages": lambda f, t: f"packages read {t} (took {f.get('seconds')} s)",
    "loaded the start-up cache": lambda f, t: f"cache of {f.get('repo')} loaded {t}",
    "ignoring the start-up cache": lambda f, t: f"cache of {f.get('repo')} IGNORED {t}: {f.get('problem')}",
    "index updated from storage": lambda f, t: f"{f.get('repo')} indexed {t}",
    "storage indexed": lambda f, t: f"storage indexed {t}",
    "serving": lambda f, t: f"listening {t}",
    "storage checked against the start-up caches": lambda f, t: f"storage checked {t}",
}


def phase_summary(log_path, startup):
    """Where a start-up's time went, from the server's log lines, in seconds since the
    spawn: `first line 1.9 (reading 1,000,200 packages), read 6.1, ...`."""
    since = startup.get("since")
    lines = phases(log_path)
    if since is None or not lines:
        return "no log"
    first = lines[0][1] + (f" {lines[0][2]['repo']}" if "repo" in lines[0][2] else "")
    parts = [f"first line {lines[0][0] - since:.2f} s ({first})"]
    for at, message, fields in lines[1:]:
        said = PHASES.get(message)
        if said:
            parts.append(said(fields, f"{at - since:.2f} s"))
    parts.append(f"every version served {startup['seconds']:.2f} s")
    return ", ".join(parts)


def scale_data(out, scale):
    R = os.path.join(out, scale, "results")
    d = {"R": R, "data": load(os.path.join(R, "data.json"))}
    for kind in ("cold", "cached"):
        d[kind] = runs(R, f"startup-{kind}-[0-9].json")
        d[kind + "_cpu"] = [float(open(p).read()) for p in sorted(glob.glob(os.path.join(R, f"startup-{kind}-[0-9]-cpu")))]
        d[kind + "_warm"] = runs(R, f"warm-{kind}-[0-9].json")
        d[kind + "_rss"] = runs(R, f"startup-{kind}-[0-9]-rss.json")
        d[kind + "_stop"] = runs(R, f"stop-{kind}-[0-9].json")
    d["pinned"] = load(os.path.join(R, "startup-pinned.json"))
    d["stop_serve"] = load(os.path.join(R, "stop-serve.json"))
    d["gzip"] = load(os.path.join(R, "gzip-big.json"))
    d["uploads"] = load(os.path.join(R, "uploads.json"))
    d["rss_ready"] = load(os.path.join(R, "rss-serve-ready.json"))
    d["rss_gets"] = load(os.path.join(R, "rss-after-gets.json"))
    d["rss_end"] = load(os.path.join(R, "rss-end.json"))
    d["get"] = {s: runs(R, f"get-{s}-[0-9].json") for s in ("charthall", "nginx")}
    with open(os.path.join(R, "get-seconds")) as f:
        d["get_seconds"] = int(f.read())
    with open(os.path.join(R, "loadavg-before")) as f, open(os.path.join(R, "loadavg-after")) as g:
        d["loadavg"] = f"{f.read().strip()} -> {g.read().strip()}"
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--scales", nargs="+", required=True)
    for name in ("commit", "server-cpus", "load-cpus", "nginx"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--server-commit", help="the commit that last changed src/ (the server measured)")
    for name in ("startup-runs", "get-runs", "warmup-seconds", "total-seconds"):
        ap.add_argument(f"--{name}", type=int, required=True)
    a = ap.parse_args()
    S = {s: scale_data(a.out, s) for s in a.scales}

    def label(s):
        d = S[s]["data"]
        return f"{d['big']:,} versions ({s})"

    # rows: [metric, {scale: cell}, target, judge(scale data) -> bool or None]
    rows = []

    def row(metric, cell, target="", judge=None):
        rows.append((metric, {s: cell(S[s]) for s in a.scales}, target, judge))

    row("versions served (big + small repository)", lambda d: num(d["data"]["big"] + d["data"]["small"]))
    row("packages in big: mean size, total",
        lambda d: f"{num(d['data']['mean_package_bytes'])} B, {d['data']['big'] * d['data']['mean_package_bytes'] / 1e9:.2f} GB")
    row("index.yaml of big, identity (MB)", lambda d: num(mb(d["gzip"]["identity_bytes"]), 1))
    row("index.yaml of big, gzip (MB; vs one `gzip -6`)",
        lambda d: f"{num(mb(d['gzip']['gzip_bytes']), 1)} ({d['gzip']['ratio']:.3f})"
        + ("" if d["gzip"]["decompresses_to_identity"] else " **does not decompress to the identity body**"))
    med = lambda xs: statistics.median(xs)
    row("cold start to serving every version (s; runs)",
        lambda d: both([r["seconds"] for r in d["cold"]], lambda v: f"{v:.2f}"),
        "≤ 8 s", lambda d: med([r["seconds"] for r in d["cold"]]) <= 8)
    row("restart with the start-up cache (s; runs)",
        lambda d: both([r["seconds"] for r in d["cached"]], lambda v: f"{v:.2f}")
        + ("" if all(r.get("had_cache") for r in d["cached"]) else " (cache missing in some runs)"),
        "≤ 2 s", lambda d: med([r["seconds"] for r in d["cached"]]) <= 2 and all(r.get("had_cache") for r in d["cached"]))
    row("CPU time of a cold start, user + system (s; runs)",
        lambda d: both(d["cold_cpu"], lambda v: f"{v:.1f}"), "(8 s on 2 cores: ≤ 16)")
    row("CPU time of a restart, user + system (s; runs)",
        lambda d: both(d["cached_cpu"], lambda v: f"{v:.1f}"), "(2 s on 2 cores: ≤ 4)")
    row("RSS when serving, after a cold start (MB; runs)",
        lambda d: both([r["rss_mb"] for r in d["cold_rss"]], num),
        "≤ 800 MB", lambda d: max(r["rss_mb"] for r in d["cold_rss"]) <= 800)
    row("RSS when serving, after a restart (MB; runs)",
        lambda d: both([r["rss_mb"] for r in d["cached_rss"]], num),
        "≤ 800 MB", lambda d: max(r["rss_mb"] for r in d["cached_rss"]) <= 800)
    row("peak RSS (VmHWM) during start-up, cold / restart (MB, highest run)",
        lambda d: f"{num(max(r['peak_mb'] for r in d['cold_rss']))} / {num(max(r['peak_mb'] for r in d['cached_rss']))}")
    row("RSS of the pinned server: ready / after GETs / after uploads (MB)",
        lambda d: f"{num(d['rss_ready']['rss_mb'])} / {num(d['rss_gets']['rss_mb'])} / {num(d['rss_end']['rss_mb'])}")
    row("peak RSS (VmHWM) of the pinned server at the end (MB)", lambda d: num(d["rss_end"]["peak_mb"]))
    row("start-up cache of big (MB; × the identity index)",
        lambda d: (lambda c: f"{num(mb(c), 1)} ({c / d['gzip']['identity_bytes']:.2f}×)" if c else "**none written**")(
            d["cached_stop"][-1]["cache_bytes"]["big"] if d["cached_stop"] else None))
    row("stop (SIGTERM to exit, writing the cache; s; cold runs, restarts)",
        lambda d: both([r["stop_seconds"] for r in d["cold_stop"] + d["cached_stop"]], lambda v: f"{v:.1f}")
        + (" (**killed**)" if any(r["killed"] for r in d["cold_stop"] + d["cached_stop"]) else ""))

    def uploads(d):
        u = d["uploads"]
        ok = sum(c["ok"] for c in u["checks"])
        return (f"{num(u['rate_per_s'])} ({u['created']}/{u['attempted']} → 201 in {u['post_seconds']:.1f} s; "
                f"index checks {ok}/{len(u['checks'])}"
                + ("; stopped by the time limit" if u["stopped_by"] == "time" else "") + ")")
    row("uploads at c1 into big (per s)", uploads, "≥ 600/s",
        lambda d: d["uploads"]["rate_per_s"] >= 600 and d["uploads"]["created"] == d["uploads"]["attempted"]
        and d["uploads"]["checks_ok"])

    def side(d, s, key):
        return med([r[key] for r in d["get"][s]])

    def ok_runs(d):
        return all(r["ok"] for s in ("charthall", "nginx") for r in d["get"][s])

    def rps_cell(s):
        return lambda d: (f"{num(side(d, s, 'rps'), 1)} ("
                          + ", ".join(num(r["rps"], 1) for r in d["get"][s]) + ")"
                          + ("" if all(r["ok"] for r in d["get"][s]) else " **a run failed its check**"))
    row("gzip GET c100, ChartHall (req/s, median (runs))", rps_cell("charthall"))
    row("gzip GET c100, nginx (req/s, median (runs))", rps_cell("nginx"))
    row("gzip GET c100, ChartHall / nginx", lambda d: f"{side(d, 'charthall', 'rps') / side(d, 'nginx', 'rps'):.2f}",
        "≥ 1.0×", lambda d: side(d, "charthall", "rps") >= side(d, "nginx", "rps") and ok_runs(d))

    def mbps(r):
        return r["bytes"] / (r["duration_us"] / 1e6) / 1e6
    def mbps_cell(d):
        ch, ng = (med([mbps(r) for r in d["get"][s]]) for s in ("charthall", "nginx"))
        return f"{num(ch)} / {num(ng)} ({ch / ng:.2f}×)"
    row("gzip GET c100, bytes read per s, ChartHall / nginx (MB/s, median; ratio)", mbps_cell)
    row("gzip GET c100, p50 ChartHall / nginx (ms, median of runs)",
        lambda d: f"{num(side(d, 'charthall', 'p50_ms'))} / {num(side(d, 'nginx', 'p50_ms'))}")
    row("gzip GET c100, p99 ChartHall / nginx (ms, median of runs)",
        lambda d: f"{num(side(d, 'charthall', 'p99_ms'))} / {num(side(d, 'nginx', 'p99_ms'))}",
        "≤ nginx's", lambda d: side(d, "charthall", "p99_ms") <= side(d, "nginx", "p99_ms"))

    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    server = f", server code of {a.server_commit}" if a.server_commit else ""
    print(f"ChartHall at scale, {today}, commit {a.commit}{server}")
    print()
    print(f"Machine: {machine()}.")
    print()
    heads = [label(s) for s in a.scales]
    judged = TARGET_SCALE in a.scales
    print("| metric | " + " | ".join(heads) + " | target at 1,000,000 |" + (" met |" if judged else ""))
    print("|---|" + "---|" * len(heads) + "---|" + ("---|" if judged else ""))
    for metric, cells, target, judge in rows:
        line = f"| {metric} | " + " | ".join(cells[s] for s in a.scales) + f" | {target or '—'} |"
        if judged:
            line += f" {yes(judge(S[TARGET_SCALE])) if judge else '—'} |"
        print(line)
    print()
    notes = [
        f"Start-up: from spawning the server (unpinned, page cache warm) until `/health` answers and both "
        f"indexes list every version (counted); {a.startup_runs} cold starts (`.charthall*` removed), then "
        f"{a.startup_runs} restarts with the cache the previous stop wrote. RSS is VmRSS when ready.",
        f"gzip GETs: `wrk -t2 -c100` ({version_of(['wrk', '--version'])}) on CPU {a.load_cpus}, ChartHall and "
        f"nginx ({version_of([a.nginx, '-v'])}, 2 workers, gzip_static, buffered access log; ChartHall logs "
        f"each request too) pinned to CPU {a.server_cpus}; nginx serves ChartHall's own gzip bytes (checked "
        f"byte for byte before and after). Per side one {a.warmup_seconds} s warm-up, then {a.get_runs} "
        f"alternating runs of "
        + ", ".join(f"{S[s]['get_seconds']} s ({s})" for s in a.scales)
        + "; every run checked: no socket errors or timeouts, only 2xx, bytes read = complete responses "
        "(+ at most one partial per connection). Bytes per second counts partial responses too: with "
        "~100 MB answers, 100 connections finish a handful of rounds per run, so req/s is coarse there.",
        "Uploads: `bench/upload.py` on CPU "
        f"{a.load_cpus} into the pinned server after the GETs, one keep-alive connection, half new versions "
        "and half new charts, stopped at 1,000 uploads or its time budget of POSTs; rate = uploads / time "
        "in POSTs; sampled checks that the very next index GET (identity and gzip) lists the upload.",
    ]
    for s in a.scales:
        d = S[s]
        warm = [w for k in ("cold", "cached") for w in d[k + "_warm"]]
        if warm:
            notes.append(f"{s}: page cache before each start (cold runs, then restarts): re-read in "
                         + both([w["seconds"] for w in warm], lambda v: f"{v:.0f}") + " s ("
                         + both([w["passes"] for w in warm], str) + " passes), then "
                         + both([w["resident"] for w in warm], lambda v: f"{100 * v:.0f} %")
                         + " of a 2,000-package sample resident.")
        notes.append(f"{s}: load average around the GETs {d['loadavg']}; data set ready in "
                     f"{d['data']['data_seconds']} s this run (generation is cached; this is the check and the tree of hard links); start-up phases "
                     f"(server log, seconds since the spawn): cold — "
                     f"{phase_summary(os.path.join(d['R'], 'charthall-start-cold-1.log'), d['cold'][0])}; "
                     f"restart — {phase_summary(os.path.join(d['R'], 'charthall-start-cached-1.log'), d['cached'][0])}.")
    notes.append(f"Whole run: {a.total_seconds // 60} min {a.total_seconds % 60} s.")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
