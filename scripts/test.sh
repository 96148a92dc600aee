#!/usr/bin/env bash
# Command two: install what is missing, build everything, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
swift build --build-tests
SWIFTLET_TEST_PYTHON="$PWD/.build/test-python/bin/python" swift test --skip-build "$@"
