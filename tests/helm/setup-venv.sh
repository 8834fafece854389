#!/usr/bin/env bash
# Create (once) a virtualenv holding the Python tools the tests drive:
# prometheus-client (its parser checks /metrics) and helm-sdkpy, the real Helm 4.3 client
# (Go SDK as a shared library with a Python front) that our tests drive via
# helm_flow.py. The `helm` binary itself cannot be downloaded on CI machines.
#
# Usage: tests/helm/setup-venv.sh        (venv at ${HELM_VENV:-<repo>/target/helm-venv})
# Last line of stdout: path of the venv's python.
#
# Needs `python3` (3.11 is fine) with the venv module. On a fresh Debian box
# `python3 -m venv` needs the `python3-venv` package (apt-get install -y
# python3-venv); pyenv/official builds already include venv and ensurepip.
# Network: PyPI only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${HELM_VENV:-$repo/target/helm-venv}"
py="$venv/bin/python"
version="${HELM_SDKPY_VERSION:-0.1.32}"
# The Prometheus project's Python client, whose parser checks /metrics (tests/tools).
prometheus_client="prometheus-client==0.21.1"

if [ -x "$py" ] && "$py" -c 'import helm_sdkpy, prometheus_client' >/dev/null 2>&1; then
    echo "$py"
    exit 0
fi

# Rebuild a broken venv, but never delete something that is not one.
if [ -e "$venv" ]; then
    if [ -f "$venv/pyvenv.cfg" ]; then
        rm -rf "$venv"
    elif [ -n "$(ls -A "$venv" 2>/dev/null)" ]; then
        echo "setup-venv.sh: $venv exists and is not a virtualenv; refusing" >&2
        exit 1
    fi
fi
if [ -x "$py" ] && "$py" -c 'import helm_sdkpy' >/dev/null 2>&1; then
    "$py" -m pip install -q "$prometheus_client" >&2
    echo "$py"
    exit 0
fi
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$py" -m pip install -q "$prometheus_client" >&2

# helm-sdkpy declares Python >= 3.12 but works on 3.11: fetch the 3.12 wheel
# (it bundles a native library, no abi-specific Python code) and install it
# ignoring Requires-Python.
d="$(mktemp -d)"
trap 'rm -rf "$d"' EXIT
"$py" -m pip download -q --no-deps --python-version 3.12 --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$d" "helm-sdkpy==$version" >&2
"$py" -m pip install -q --ignore-requires-python "$d"/helm_sdkpy-*.whl >&2

"$py" -c 'import helm_sdkpy' >&2
echo "$py"
