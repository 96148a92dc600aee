#!/usr/bin/env bash
# Skill runs, release build: the same Python script spawned bare and through the sandbox (bwrap,
# swiftlet-skill-launch, limits, unprivileged uid), one after another; then many sandboxed runs at once.
#
# Usage: bench/skills.sh [runs] [concurrent]     (default 200 runs, 50 at once). NO_BUILD=1 skips building.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then
  for product in swiftlet-skill-bench swiftlet-skill-launch; do
    swift build -c release --product "$product" --scratch-path .build-release >/dev/null
  done
fi
echo "swiftlet $(git describe --always --dirty 2>/dev/null || echo '?') · $(nproc) cores" >&2
exec .build-release/release/swiftlet-skill-bench "${1:-200}" "${2:-50}"
