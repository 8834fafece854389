#!/usr/bin/env bash
# Build (once per machine) Garage, the real S3-compatible store tests/replicas.rs and the
# bench run ChartHall's replicas on: crates.io's `garage` 2.5.0, built with
# `cargo install --locked` into a cache outside the checkout (13-25 minutes on 2 cores),
# and reused by every later run on the machine.
#
# Usage: tests/garage/setup.sh     (idempotent; .ci/run and the tests call it)
# Last line of stdout: the garage binary.
# Network: crates.io, only when the binary is missing.
set -euo pipefail

version=2.5.0
root="${CHARTHALL_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/charthall-tools}/garage-$version"
binary="$root/bin/garage"

if ! "$binary" --version 2>/dev/null | grep -q "$version"; then
    # One build at a time per machine (test binaries may call this at once).
    mkdir -p "$root"
    exec 9>"$root/.lock"
    flock 9
    if ! "$binary" --version 2>/dev/null | grep -q "$version"; then
        echo "setup.sh: building garage $version (once per machine; 13-25 minutes on 2 cores)" >&2
        cargo install garage --version "$version" --locked --root "$root" >&2
    fi
fi
echo "$binary"
