#!/usr/bin/env bash
# Replicas on a bucket (issue 17): index GETs of a replica on S3 storage against one on a
# local folder (the hot path never touches the store), uploads at c1 into each, and how
# long an upload through one replica takes to show on the others. Usage: bench/replicas.sh
#
# Builds the release binary, builds Garage once per machine (tests/garage/setup.sh),
# reuses the 200-version repository bench/run.sh generates, and prints a Markdown table
# (also written to target/bench-replicas.md). bench/replicas.py says what it measures.
#
# Knobs: BENCH_RUNS=3 (wrk runs per side), BENCH_SMALL_SECONDS=5, BENCH_SERVER_CPUS,
# BENCH_LOAD_CPUS (defaults as in bench/run.sh: servers on CPU 1, wrk on CPU 0).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_tools
NCPU=$(nproc)
SERVER_CPUS=${BENCH_SERVER_CPUS:-$((NCPU >= 2 ? 1 : 0))}
LOAD_CPUS=${BENCH_LOAD_CPUS:-0}

log "building target/release/charthall"
cargo build --release --quiet
GARAGE=$(tests/garage/setup.sh | tail -1)
DATA=$PWD/target/bench-data/v$(python3 bench/gen_charts.py --version)-small
python3 bench/gen_charts.py "$DATA" small
BIN=$(mktemp /tmp/charthall-replicas-bin.XXXXXX)
cp target/release/charthall "$BIN"
chmod 755 "$BIN"
trap 'rm -f "$BIN"' EXIT
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "Replicas on a bucket, ChartHall $COMMIT, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    (cd bench && python3 replicas.py --bin "$BIN" --garage "$GARAGE" --data "$DATA" \
        --runs "${BENCH_RUNS:-3}" --seconds "${BENCH_SMALL_SECONDS:-5}" \
        --server-cpus "$SERVER_CPUS" --load-cpus "$LOAD_CPUS" --out ../target/bench-replicas.json)
} | tee target/bench-replicas.md
