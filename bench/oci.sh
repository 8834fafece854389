#!/usr/bin/env bash
# OCI pulls (issue 18): ChartHall against Debian's docker-registry 2.8 serving the very same
# chart (copied from ChartHall into the registry with skopeo): the manifest by tag and the
# chart layer blob, wrk -t2 -c100. Usage: bench/oci.sh   (bench/oci.py says what it measures)
#
# Knobs: BENCH_RUNS=3, BENCH_SMALL_SECONDS=5, BENCH_SERVER_CPUS, BENCH_LOAD_CPUS.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_tools
missing=()
command -v skopeo >/dev/null || missing+=(skopeo)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
NCPU=$(nproc)
SERVER_CPUS=${BENCH_SERVER_CPUS:-$((NCPU >= 2 ? 1 : 0))}
LOAD_CPUS=${BENCH_LOAD_CPUS:-0}

log "building target/release/charthall"
cargo build --release --quiet
DATA=$PWD/target/bench-data/v$(python3 bench/gen_charts.py --version)-small
python3 bench/gen_charts.py "$DATA" small
PACKAGE=$(find "$DATA/repos/small" -name "*.tgz" -print -quit)
BIN=$(mktemp /tmp/charthall-oci-bin.XXXXXX)
cp target/release/charthall "$BIN"
chmod 755 "$BIN"
trap 'rm -f "$BIN"' EXIT
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "OCI pulls, ChartHall $COMMIT against docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}'), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    (cd bench && python3 oci.py --bin "$BIN" --package "$PACKAGE" --runs "${BENCH_RUNS:-3}" \
        --seconds "${BENCH_SMALL_SECONDS:-5}" --server-cpus "$SERVER_CPUS" --load-cpus "$LOAD_CPUS")
} | tee target/bench-oci.md
