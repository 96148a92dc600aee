#!/usr/bin/env bash
# The plugin call path and hot reload, release build: a call through the tool registry to an in-process plugin
# function that does nothing, against a built-in tool that does nothing, then repeated hot reloads, then round trips
# to the same plugin isolated in its bubblewrap sandbox (swiftlet plugin-host).
#
# Usage: bench/plugins.sh [calls] [reloads]     (default 200000 calls, 50 reloads). NO_BUILD=1 skips building.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then
  for product in swiftlet-plugin-bench FixtureToolPlugin swiftlet; do
    swift build -c release --product "$product" --scratch-path .build-release >/dev/null
  done
fi
echo "swiftlet $(git describe --always --dirty 2>/dev/null || echo '?') · $(nproc) cores" >&2
exec .build-release/release/swiftlet-plugin-bench "${1:-200000}" "${2:-50}"
