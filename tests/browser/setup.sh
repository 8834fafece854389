#!/usr/bin/env bash
# Prepare (once) what tests/browse.rs drives the browse page with: Debian's chromium and
# playwright-core (from npm, pinned by package-lock.json). Playwright's own browser
# downloads are never used: the tests launch /usr/bin/chromium.
#
# Usage: tests/browser/setup.sh     (idempotent; .ci/run and the tests call it)
# Last line of stdout: the folder holding node_modules.
# Network: Debian's apt repositories (only if chromium is missing) and the npm registry
# (only if node_modules is missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: ${missing[*]} missing; install with: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi

if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts >&2)
fi

node -e 'require.resolve("playwright-core", { paths: [process.argv[1]] })' "$here" >&2
echo "$here"
