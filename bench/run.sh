#!/usr/bin/env bash
# ChartHall benchmark: one command, one table.   Usage: bench/run.sh
#
# Builds the release binary, generates (once, cached) chart packages, starts
# ChartHall and nginx on the same cores, drives both with wrk, uploads into the big
# repository, times start-up, and prints a Markdown table (also written to
# target/bench-results.md). See bench/README.md for what is measured and why.
#
# Knobs (environment):
#   BENCH_SCALE=full|small      full: 13,000 charts x 10 = 130,000 versions; small: 2,000
#   BENCH_RUNS=5                measured runs per side per case (after one warm-up; >= 3)
#   BENCH_SMALL_SECONDS=5       wrk duration, 200-version index
#   BENCH_BIG_SECONDS=10        wrk duration, big index
#   BENCH_WARMUP_SECONDS=3      discarded warm-up run per side
#   BENCH_UPLOAD_MAX=1000       upload phase stops at this count ...
#   BENCH_UPLOAD_SECONDS=60     ... or after this much time spent in uploads
#   BENCH_UPLOAD_CHECKS=5       sampled "is it in the index" checks
#   BENCH_STARTUP_RUNS=3        start-ups measured per kind (cold, with cache); median
#   BENCH_LOGS=on               on: both servers log every request (ChartHall's request
#                               lines and /metrics counting, nginx's buffered access log);
#                               off: neither (LOG_LEVEL=warn DISABLE_METRICS=true, access_log off)
#   BENCH_SERVER_CPUS, BENCH_LOAD_CPUS   taskset CPU lists (defaults below)
#   CHARTHALL_CACHE_GLOB='.charthall*'   ChartHall's start-up cache in storage
set -euo pipefail
cd "$(dirname "$0")/.."          # the repository root
source bench/lib.sh

SCALE=${BENCH_SCALE:-full}
RUNS=${BENCH_RUNS:-5}
SMALL_SECONDS=${BENCH_SMALL_SECONDS:-5}
BIG_SECONDS=${BENCH_BIG_SECONDS:-10}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}
UPLOAD_MAX=${BENCH_UPLOAD_MAX:-1000}
UPLOAD_SECONDS=${BENCH_UPLOAD_SECONDS:-60}
UPLOAD_CHECKS=${BENCH_UPLOAD_CHECKS:-5}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-3}
CH_CACHE_GLOB=${CHARTHALL_CACHE_GLOB:-.charthall*}
LOGS=${BENCH_LOGS:-on}
[[ $LOGS == on || $LOGS == off ]] || die "BENCH_LOGS must be on or off"
CONNECTIONS=100
[[ $SCALE == full || $SCALE == small ]] || die "BENCH_SCALE must be full or small"
((RUNS >= 3)) || die "BENCH_RUNS must be at least 3 (medians of fewer say little on a shared machine)"

# CPU pinning. ChartHall and nginx always get the same CPUs, and the load tool gets
# the others, so the servers never fight wrk for a core and both face the same
# machine. On the 2-core machine: servers on CPU 1, wrk (and the upload client) on
# CPU 0. Start-up is timed without pinning (nothing else runs then).
pick_cpus

ensure_tools
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

log "building target/release/charthall"
cargo build --release --quiet
# What was built, for the table's header (uncommitted changes under src/ are flagged).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] && COMMIT+=" + uncommitted changes"

# --- data: generated once per generator version and scale, then reused ----------
DATA=$PWD/target/bench-data/v$(python3 bench/gen_charts.py --version)-$SCALE
if [[ ! -e $DATA/.complete ]]; then
    need_mb=$([[ $SCALE == full ]] && echo 1300 || echo 50)
    avail_mb=$(df -Pm "$PWD/target" | awk 'NR == 2 { print $4 }')
    ((avail_mb > need_mb)) || die "need ~${need_mb} MB free under target/ for chart data, have ${avail_mb} MB"
    log "generating chart packages (first run at this scale; cached in $DATA)"
fi
python3 bench/gen_charts.py "$DATA" "$SCALE"
read -r SMALL_VERSIONS BIG_VERSIONS < <(python3 -c '
import json, sys; m = json.load(open(sys.argv[1])); print(m["versions"]["small"], m["versions"]["big"])' "$DATA/manifest.json")

# --- a fresh storage tree per run ----------------------------------------------
# Hard links to the cached packages: instant, and uploads (written to a temporary
# file and renamed) add files without touching the cache.
RUN=$PWD/target/bench-run
RESULTS=$RUN/results
rm -rf "$RUN"
mkdir -p "$RUN/storage" "$RESULTS/wrk"
cp -al "$DATA/repos/small" "$DATA/repos/big" "$RUN/storage/"
STORAGE=$RUN/storage
# Run a private copy of the binary: target/ is shared, and a `cargo build` by someone
# else during the run must not swap the server between two measurements.
cp target/release/charthall "$RUN/charthall"
BIN=$RUN/charthall

TMP=$(mktemp -d /tmp/charthall-bench.XXXXXX)
chmod 755 "$TMP"                 # nginx workers run as nobody when started by root
WWW=$TMP/www
mkdir -p "$WWW/small" "$WWW/big"
CH_PID= NGINX_PID=
cleanup() {
    [[ -n $CH_PID ]] && stop_pid "$CH_PID"
    [[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CH_PORT=$(free_port)
NGINX_PORT=$(free_port)
CH=http://127.0.0.1:$CH_PORT
NG=http://127.0.0.1:$NGINX_PORT

# "Page cache warm": read every package once, so the cold start measures ChartHall,
# not the disk.
log "warming the page cache ($((SMALL_VERSIONS + BIG_VERSIONS)) packages)"
find "$STORAGE" -name '*.tgz' -print0 | xargs -0 cat >/dev/null

# --- start-up ------------------------------------------------------------------
EXPECT=(small="$SMALL_VERSIONS" big="$BIG_VERSIONS")
for kind in cold cached; do
    for ((i = 1; i <= STARTUP_RUNS; i++)); do
        [[ $kind == cold ]] && drop_charthall_cache
        had_cache=$(charthall_cache_exists && echo true || echo false)
        log "start-up $kind $i/$STARTUP_RUNS (cache present: $had_cache)"
        start_charthall "$ALL_CPUS" "$RESULTS/charthall-start-$kind-$i.log"
        python3 bench/probe.py ready --port "$CH_PORT" --since "$CH_SINCE" \
            --expect "${EXPECT[@]}" --out "$RESULTS/startup-$kind-$i.json"
        python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/startup-$kind-$i-rss.json"
        python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["had_cache"]=sys.argv[2]=="true"; json.dump(d,open(p,"w"))' \
            "$RESULTS/startup-$kind-$i.json" "$had_cache"
        stop_pid "$CH_PID"
        CH_PID=
    done
done

# The server under load: pinned, started with whatever cache the runs above left. Its
# log (a line per request with BENCH_LOGS=on) goes to a file, as nginx's access log does.
log "starting ChartHall on CPU $SERVER_CPUS (request logs and metrics $LOGS)"
if [[ $LOGS == off ]]; then
    CH_EXTRA_ENV=(LOG_LEVEL=warn DISABLE_METRICS=true)
fi
start_charthall "$SERVER_CPUS" "$TMP/charthall.log"
python3 bench/probe.py ready --port "$CH_PORT" --since "$CH_SINCE" --expect "${EXPECT[@]}" \
    --out "$RESULTS/startup-pinned.json"

# --- nginx serves exactly ChartHall's bytes --------------------------------------
# Fetched without Accept-Encoding (curl sends none) and with gzip, written as the
# files gzip_static serves.
for repo in small big; do
    curl -sS --max-time 300 -o "$WWW/$repo/index.yaml" "$CH/$repo/index.yaml"
    curl -sS --max-time 300 -H 'Accept-Encoding: gzip' -o "$WWW/$repo/index.yaml.gz" "$CH/$repo/index.yaml"
    python3 bench/probe.py gzip-size --identity "$WWW/$repo/index.yaml" \
        --gzip "$WWW/$repo/index.yaml.gz" --out "$RESULTS/gzip-$repo.json"
done
chmod -R a+rX "$WWW"
access_log="$TMP/nginx-access.log combined buffer=64k flush=1s"
[[ $LOGS == off ]] && access_log=off
sed -e "s|@TMP@|$TMP|g" -e "s|@WWW@|$WWW|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ACCESS_LOG@|$access_log|g" \
    bench/nginx.conf.template >"$TMP/nginx.conf"
mkdir -p "$TMP/client_body" "$TMP/proxy" "$TMP/fastcgi" "$TMP/uwsgi" "$TMP/scgi"
log "starting nginx on CPU $SERVER_CPUS"
taskset -c "$SERVER_CPUS" "$NGINX" -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" &
NGINX_PID=$!
for ((i = 0; i < 100; i++)); do curl -s -o /dev/null "$NG/" && break; sleep 0.1; done
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start: $(cat "$TMP/nginx-error.log" 2>/dev/null)"

# --- index GETs: warm-up, then alternating runs, medians compared -----------------
# The machine is shared: record how busy it was, for the table's header.
LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# bench_case <case> <repo> <identity|gzip> <seconds>
bench_case() {
    local case=$1 repo=$2 encoding=$3 seconds=$4 file side url i head_bytes
    file=$WWW/$repo/index.yaml
    [[ $encoding == gzip ]] && file+=.gz
    local body_bytes
    body_bytes=$(stat -c %s "$file")
    log "$case: GET /$repo/index.yaml ($encoding, $body_bytes bytes), c$CONNECTIONS, ${seconds}s x $RUNS per side"
    declare -A heads
    for side in charthall nginx; do
        url=$([[ $side == charthall ]] && echo "$CH" || echo "$NG")/$repo/index.yaml
        heads[$side]=$(check_served "$url" "$encoding" "$file")
        echo "  warm-up $side (discarded)" >&2
        run_wrk "$url" "$encoding" "$WARMUP_SECONDS" "$RESULTS/wrk/$case-$side-warmup.txt"
    done
    for ((i = 1; i <= RUNS; i++)); do
        # Alternate which side goes first (A B, B A, A B ...) so neither always runs
        # right after the other has heated the machine.
        local order=(charthall nginx)
        ((i % 2 == 0)) && order=(nginx charthall)
        for side in "${order[@]}"; do
            url=$([[ $side == charthall ]] && echo "$CH" || echo "$NG")/$repo/index.yaml
            printf '  run %d %-9s' "$i" "$side" >&2
            run_wrk "$url" "$encoding" "$seconds" "$RESULTS/wrk/$case-$side-$i.txt"
            python3 bench/probe.py wrk --result "$RESULTS/wrk/$case-$side-$i.txt" \
                --body-bytes "$body_bytes" --header-bytes "${heads[$side]}" \
                --connections "$CONNECTIONS" --out "$RESULTS/load-$case-$side-$i.json"
        done
    done
    # Still the same bytes afterwards (a server that changed its answer mid-run fails).
    check_served "$CH/$repo/index.yaml" "$encoding" "$file" >/dev/null
}
bench_case small-identity small identity "$SMALL_SECONDS"
bench_case small-gzip small gzip "$SMALL_SECONDS"
bench_case big-gzip big gzip "$BIG_SECONDS"
LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# Both logs should hold a line per request: check that neither side skipped its logging.
if [[ $LOGS == on ]]; then
    CH_LINES=$(grep -c 'charthall::request' "$TMP/charthall.log" || true)
    NG_LINES=$(wc -l <"$TMP/nginx-access.log")
    log "request lines logged: ChartHall $CH_LINES, nginx $NG_LINES"
fi
stop_pid "$NGINX_PID"
NGINX_PID=
python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/rss-before-uploads.json"

# --- uploads into the big repository, then gzip size again ------------------------
log "uploads: concurrency 1 into /big, at most $UPLOAD_MAX or ${UPLOAD_SECONDS}s"
taskset -c "$LOAD_CPUS" python3 bench/upload.py --port "$CH_PORT" --repo big --data "$DATA" \
    --max "$UPLOAD_MAX" --seconds "$UPLOAD_SECONDS" --checks "$UPLOAD_CHECKS" \
    --out "$RESULTS/uploads.json"
curl -sS --max-time 300 -o "$TMP/after.yaml" "$CH/big/index.yaml"
curl -sS --max-time 300 -H 'Accept-Encoding: gzip' -o "$TMP/after.yaml.gz" "$CH/big/index.yaml"
python3 bench/probe.py gzip-size --identity "$TMP/after.yaml" --gzip "$TMP/after.yaml.gz" \
    --out "$RESULTS/gzip-big-after-uploads.json"

# --- memory at the end of the run ---------------------------------------------------
python3 bench/probe.py rss --pid "$CH_PID" --out "$RESULTS/rss.json"

# --- the table ----------------------------------------------------------------------
python3 bench/report.py --results "$RESULTS" --scale "$SCALE" \
    --small-versions "$SMALL_VERSIONS" --big-versions "$BIG_VERSIONS" \
    --server-cpus "$SERVER_CPUS" --load-cpus "$LOAD_CPUS" --runs "$RUNS" \
    --small-seconds "$SMALL_SECONDS" --big-seconds "$BIG_SECONDS" \
    --warmup-seconds "$WARMUP_SECONDS" --connections "$CONNECTIONS" \
    --cache-glob "$CH_CACHE_GLOB" --nginx "$NGINX" --commit "$COMMIT" \
    --loadavg "$LOADAVG_BEFORE -> $LOADAVG_AFTER" --logs "$LOGS" >"$RUN/table.md"
cp "$RUN/table.md" target/bench-results.md
cat "$RUN/table.md"
