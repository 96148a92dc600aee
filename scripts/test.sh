#!/usr/bin/env bash
# Command two: install what is missing, build everything, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
