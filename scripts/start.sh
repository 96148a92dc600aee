#!/usr/bin/env bash
# Command one: install what is missing, build swiftlet (release), and start the gateway on this
# repository's example workspace (SQLite, web chat), printing the dashboard URL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "building swiftlet (release; the first build takes several minutes)..."
swift build -c release --product swiftlet
# The first program of every skill sandbox, found beside swiftlet.
swift build -c release --product swiftlet-skill-launch
# First-party plugins are found beside the executable; tools.json registers them.
swift build -c release --product FileSearch
swift build -c release --product FileSystem
swift build -c release --product HTTPFetch
exec .build/release/swiftlet gateway start --workspace "$PWD" --print-dashboard-url "$@"
