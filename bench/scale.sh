#!/usr/bin/env bash
# ChartHall at 130,000 and at 1,000,000 versions, side by side (issue 19).
#   Usage: bench/scale.sh                      (BENCH_SCALES="full million")
#
# For each scale, with one binary: warm the page cache, cold start x2 (no start-up
# cache) and restart x2 (with the cache the previous stop wrote), each timed until
# every version is served, with RSS when ready and the peak; the cache file's size
# against the index's; gzip index GETs at c100 against nginx serving the same bytes
# (alternating runs, req/s and wrk's p50/p99); uploads at c1 into the big repository.
# Prints one Markdown table (also target/bench-scale.md). See bench/README.md,
# "A million versions (issue 19)".
#
# Knobs (environment):
#   BENCH_SCALES="full million"   scales to run, in order (gen_charts.py's: small, full, million)
#   BENCH_STARTUP_RUNS=2          cold starts, then as many restarts with the cache
#   BENCH_GET_RUNS=3              measured gzip GET runs per side (after one warm-up)
#   BENCH_GET_SECONDS=            wrk duration per run; default 8 s, 20 s at million (see README)
#   BENCH_WARMUP_SECONDS=3        discarded warm-up run per side
#   BENCH_UPLOAD_MAX=1000         uploads stop at this count ...
#   BENCH_UPLOAD_SECONDS=20       ... or after this much time spent in POSTs
#   BENCH_UPLOAD_CHECKS=3         sampled "is it in the index" checks (each reads the whole index)
#   BENCH_SERVER_CPUS, BENCH_LOAD_CPUS   taskset CPU lists, as run.sh
#   CHARTHALL_CACHE_GLOB='.charthall*'   ChartHall's start-up cache in storage
set -euo pipefail
cd "$(dirname "$0")/.."          # the repository root
source bench/lib.sh

SCALES=${BENCH_SCALES:-full million}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-2}
GET_RUNS=${BENCH_GET_RUNS:-3}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}
UPLOAD_MAX=${BENCH_UPLOAD_MAX:-1000}
UPLOAD_SECONDS=${BENCH_UPLOAD_SECONDS:-20}
UPLOAD_CHECKS=${BENCH_UPLOAD_CHECKS:-3}
CH_CACHE_GLOB=${CHARTHALL_CACHE_GLOB:-.charthall*}
CACHE_FILE=.charthall-index.cache   # src/index/startup_cache.rs
STOP_SECONDS=300                    # a stop writes the start-up cache: ~1 GB at a million
READY_SECONDS=600                   # probe.py ready gives up after this
CONNECTIONS=100
# ~100 MB gzip answers to 100 connections at once take several seconds each.
export WRK_TIMEOUT=120s
((GET_RUNS >= 3)) || die "BENCH_GET_RUNS must be at least 3"

pick_cpus

ensure_tools
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TARGET=${CARGO_TARGET_DIR:-$PWD/target}

STARTED_AT=$(date +%s)
log "building $TARGET/release/charthall"
cargo build --release --quiet
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The server's code is what src/ and Cargo.* hold: name the commit that last changed them.
SERVER_COMMIT=$(git log -1 --format=%h -- src Cargo.toml Cargo.lock 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] && SERVER_COMMIT+=" + uncommitted changes"

OUT=$PWD/target/bench-scale
mkdir -p "$OUT"
# One private copy of the binary for every scale: a build by someone else in the same
# target/ cannot swap the server between the two columns.
cp "$TARGET/release/charthall" "$OUT/charthall.new"
mv "$OUT/charthall.new" "$OUT/charthall"
BIN=$OUT/charthall

TMP=$(mktemp -d /tmp/charthall-scale.XXXXXX)
chmod 755 "$TMP"                 # nginx workers run as nobody when started by root
CH_PID= NGINX_PID=
cleanup() {
    [[ -n $CH_PID ]] && stop_pid "$CH_PID" "$STOP_SECONDS"
    [[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# json <file> <python expression over d>: one value from a JSON file.
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# stop_timed <out.json>: SIGTERM to ChartHall, time until it has exited (it writes its
# start-up cache on the way out), SIGKILL after STOP_SECONDS; then the cache file sizes.
stop_timed() {
    local out=$1 t0 t1 killed=false i
    t0=$(date +%s.%N)
    kill -TERM "$CH_PID" 2>/dev/null || true
    for ((i = 0; i < STOP_SECONDS * 20; i++)); do
        kill -0 "$CH_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$CH_PID" 2>/dev/null; then
        killed=true
        kill -KILL "$CH_PID" 2>/dev/null || true
    fi
    wait "$CH_PID" 2>/dev/null || true
    t1=$(date +%s.%N)
    CH_PID=
    python3 - "$out" "$t0" "$t1" "$killed" "$STORAGE" "$CACHE_FILE" <<'EOF'
import json, os, sys
out, t0, t1, killed, storage, name = sys.argv[1:]
sizes = {}
for repo in ("small", "big"):
    path = os.path.join(storage, repo, name)
    sizes[repo] = os.path.getsize(path) if os.path.exists(path) else None
json.dump({"stop_seconds": round(float(t1) - float(t0), 2), "killed": killed == "true",
           "cache_bytes": sizes}, open(out, "w"))
EOF
}

# cpu_seconds <pid>: user + system CPU time the process has used so far (s). Less
# sensitive to a busy machine than wall time: what a start costs, not how long it waited.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}

# warm <out.json>: read every package of the scale (4 readers; the list is in
# $dir/files), the repository folders' listings and the start-up caches, then sample
# 2,000 packages with fincore for the share of their bytes in the page cache; another
# pass (at most 3 in all) while that is under 98 %. This machine pages out what has
# been idle ~60 s, so a pass slower than that loses its beginning (and a cache file
# written a minute before a restart would be read from disk). Records the time and the
# share the server finds when spawned right after.
warm() {
    local out=$1 t0 pass
    t0=$(date +%s.%N)
    for ((pass = 1; pass <= 3; pass++)); do
        timeout 1800 xargs -0 -P 4 -n 2000 cat <"$dir/files" >/dev/null
        ls -f "$STORAGE"/* >/dev/null
        find "$STORAGE" -maxdepth 2 -name "$CACHE_FILE" -exec cat {} + >/dev/null
        python3 - "$dir/files" "$out" "$t0" "$pass" <<'EOF' && break
import json, random, subprocess, sys, time
files = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
sample = random.Random(0).sample(files, min(2000, len(files)))
res = size = 0
for i in range(0, len(sample), 500):
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES,SIZE"] + sample[i:i + 500],
                         capture_output=True, check=True).stdout.decode()
    for line in out.splitlines():
        r, s = line.split()  # RES is whole pages, SIZE bytes: compare pages with pages
        res, size = res + int(r), size + -(-int(s) // 4096) * 4096
seconds = time.time() - float(sys.argv[3])
json.dump({"seconds": round(seconds, 1), "passes": int(sys.argv[4]), "resident": round(res / size, 3)},
          open(sys.argv[2], "w"))
print(f"  page cache: {seconds:.1f} s, pass {sys.argv[4]}; {100 * res / size:.1f} % of a 2,000-package "
      "sample resident", file=sys.stderr)
sys.exit(0 if res / size >= 0.98 else 1)
EOF
    done
    return 0
}

# --- one scale -------------------------------------------------------------------
run_scale() {
    local scale=$1 v data need_mb avail_mb small_versions big_versions mean_bytes kind i t0 had_cache
    v=$(python3 bench/gen_charts.py --version)
    data=$PWD/target/bench-data/v$v-$scale
    if [[ ! -e $data/.complete ]]; then
        need_mb=$(case $scale in full) echo 1300 ;; million) echo 4800 ;; *) echo 50 ;; esac)
        avail_mb=$(df -Pm "$PWD/target" | awk 'NR == 2 { print $4 }')
        ((avail_mb > need_mb)) || die "need ~${need_mb} MB free under target/ for chart data, have ${avail_mb} MB"
        log "$scale: generating chart packages (first run at this scale; cached in $data)"
    fi
    t0=$(date +%s)
    timeout 10800 python3 bench/gen_charts.py "$data" "$scale"
    read -r small_versions big_versions mean_bytes < <(json "$data/manifest.json" \
        '" ".join(str(x) for x in (d["versions"]["small"], d["versions"]["big"], d["mean_package_bytes"]))')

    local dir=$OUT/$scale
    RESULTS=$dir/results
    STORAGE=$dir/storage
    log "$scale: a fresh storage tree of hard links ($((small_versions + big_versions)) packages)"
    rm -rf "$dir"
    mkdir -p "$STORAGE" "$RESULTS/wrk"
    timeout 1800 cp -al "$data/repos/small" "$data/repos/big" "$STORAGE/"
    python3 -c 'import json, sys; json.dump({"scale": sys.argv[1], "small": int(sys.argv[2]), "big": int(sys.argv[3]),
        "mean_package_bytes": int(sys.argv[4]), "data_seconds": int(sys.argv[5])}, open(sys.argv[6], "w"))' \
        "$scale" "$small_versions" "$big_versions" "$mean_bytes" "$(($(date +%s) - t0))" "$RESULTS/data.json"

    CH_PORT=$(free_port)
    local ch=http://127.0.0.1:$CH_PORT
    find "$STORAGE" -name '*.tgz' -print0 >"$dir/files"
    log "$scale: warming the page cache"
    warm "$RESULTS/warm-first.json"

    # Start-up: cold (cache removed) then with the cache the previous stop wrote.
    local expect=(small="$small_versions" big="$big_versions")
    for kind in cold cached; do
        for ((i = 1; i <= STARTUP_RUNS; i++)); do
            [[ $kind == cold ]] && drop_charthall_cache
            # This machine pages out what has been idle for ~60 s (DAMON, see README):
            # read everything again right before each start, and record how much of it
            # was still resident when the server was spawned.
            warm "$RESULTS/warm-$kind-$i.json"
            had_cache=$(charthall_cache_exists && echo true || echo false)
            log "$scale: start-up $kind $i/$STARTUP_RUNS (cache present: $had_cache)"
            start_charthall "$ALL_CPUS" "$RESULTS/charthall-start-$kind-$i.log"
            python3 bench/probe.py ready --port "$CH_PORT" --since "$CH_SINCE" --timeout "$READY_SECONDS" \
                --expect "${expect[@]}" --out "$RESULTS/startup-$kind-$i.json"
            python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/startup-$kind-$i-rss.json"
            cpu_seconds "$CH_PID" >"$RESULTS/startup-$kind-$i-cpu"
            python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["had_cache"]=sys.argv[2]=="true"; d["since"]=float(sys.argv[3]); json.dump(d,open(p,"w"))' \
                "$RESULTS/startup-$kind-$i.json" "$had_cache" "$CH_SINCE"
            stop_timed "$RESULTS/stop-$kind-$i.json"
            echo "  stopped in $(json "$RESULTS/stop-$kind-$i.json" 'd["stop_seconds"]') s; cache bytes $(json "$RESULTS/stop-$kind-$i.json" 'd["cache_bytes"]')" >&2
        done
    done

    # The server under load: pinned, started with the cache, logging each request to a
    # file (as run.sh's default, BENCH_LOGS=on).
    log "$scale: ChartHall on CPU $SERVER_CPUS"
    start_charthall "$SERVER_CPUS" "$RESULTS/charthall-serve.log"
    python3 bench/probe.py ready --port "$CH_PORT" --since "$CH_SINCE" --timeout "$READY_SECONDS" \
        --expect "${expect[@]}" --out "$RESULTS/startup-pinned.json"
    python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/rss-serve-ready.json"

    # nginx serves exactly ChartHall's gzip bytes (and the identity ones: gzip_static
    # needs the plain file next to the .gz; their size is the index size reported).
    local www=$TMP/www-$scale
    mkdir -p "$www/big"
    timeout 600 curl -sS -o "$www/big/index.yaml" "$ch/big/index.yaml"
    timeout 600 curl -sS -H 'Accept-Encoding: gzip' -o "$www/big/index.yaml.gz" "$ch/big/index.yaml"
    timeout 900 python3 bench/probe.py gzip-size --identity "$www/big/index.yaml" \
        --gzip "$www/big/index.yaml.gz" --out "$RESULTS/gzip-big.json"
    chmod -R a+rX "$www"
    NGINX_PORT=$(free_port)
    local ng=http://127.0.0.1:$NGINX_PORT
    sed -e "s|@TMP@|$TMP|g" -e "s|@WWW@|$www|g" -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@ACCESS_LOG@|$TMP/nginx-access.log combined buffer=64k flush=1s|g" \
        bench/nginx.conf.template >"$TMP/nginx.conf"
    mkdir -p "$TMP/client_body" "$TMP/proxy" "$TMP/fastcgi" "$TMP/uwsgi" "$TMP/scgi"
    taskset -c "$SERVER_CPUS" "$NGINX" -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" &
    NGINX_PID=$!
    for ((i = 0; i < 100; i++)); do curl -s -o /dev/null "$ng/" && break; sleep 0.1; done
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start: $(cat "$TMP/nginx-error.log" 2>/dev/null)"

    # gzip index GETs, c100: one warm-up per side, then alternating runs (A B, B A, ...).
    local seconds=${BENCH_GET_SECONDS:-$([[ $scale == million ]] && echo 20 || echo 8)}
    local file=$www/big/index.yaml.gz body_bytes side url
    body_bytes=$(stat -c %s "$file")
    log "$scale: GET /big/index.yaml (gzip, $body_bytes bytes), c$CONNECTIONS, ${seconds}s x $GET_RUNS per side"
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-before"
    declare -A heads
    for side in charthall nginx; do
        url=$([[ $side == charthall ]] && echo "$ch" || echo "$ng")/big/index.yaml
        heads[$side]=$(check_served "$url" gzip "$file")
        echo "  warm-up $side (discarded)" >&2
        run_wrk "$url" gzip "$WARMUP_SECONDS" "$RESULTS/wrk/$side-warmup.txt"
    done
    for ((i = 1; i <= GET_RUNS; i++)); do
        local order=(charthall nginx)
        ((i % 2 == 0)) && order=(nginx charthall)
        for side in "${order[@]}"; do
            url=$([[ $side == charthall ]] && echo "$ch" || echo "$ng")/big/index.yaml
            printf '  run %d %-9s' "$i" "$side" >&2
            run_wrk "$url" gzip "$seconds" "$RESULTS/wrk/$side-$i.txt"
            python3 bench/probe.py wrk --result "$RESULTS/wrk/$side-$i.txt" \
                --body-bytes "$body_bytes" --header-bytes "${heads[$side]}" \
                --connections "$CONNECTIONS" --out "$RESULTS/get-$side-$i.json"
        done
    done
    check_served "$ch/big/index.yaml" gzip "$file" >/dev/null
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-after"
    echo "$seconds" >"$RESULTS/get-seconds"
    stop_pid "$NGINX_PID"
    NGINX_PID=
    rm -rf "$www"
    python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/rss-after-gets.json"

    # Uploads at c1 into the big repository (after the GETs, as run.sh: the uploads make
    # the start-up cache stale, and the server rewrites it within a minute, ~1 GB at a
    # million, which must not land in a measured GET run).
    log "$scale: uploads, concurrency 1 into /big, at most $UPLOAD_MAX or ${UPLOAD_SECONDS}s of POSTs"
    timeout 1200 taskset -c "$LOAD_CPUS" python3 bench/upload.py --port "$CH_PORT" --repo big --data "$data" \
        --max "$UPLOAD_MAX" --seconds "$UPLOAD_SECONDS" --checks "$UPLOAD_CHECKS" \
        --out "$RESULTS/uploads.json"
    python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/rss-end.json"
    stop_timed "$RESULTS/stop-serve.json"
}

for scale in $SCALES; do
    run_scale "$scale"
done

python3 bench/scale_report.py --out "$OUT" --scales $SCALES --commit "$COMMIT" --server-commit "$SERVER_COMMIT" \
    --server-cpus "$SERVER_CPUS" --load-cpus "$LOAD_CPUS" --nginx "$NGINX" \
    --startup-runs "$STARTUP_RUNS" --get-runs "$GET_RUNS" --warmup-seconds "$WARMUP_SECONDS" \
    --total-seconds "$(($(date +%s) - STARTED_AT))" >"$OUT/table.md"
cp "$OUT/table.md" target/bench-scale.md
cat "$OUT/table.md"
