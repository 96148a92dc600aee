#!/usr/bin/env bash
# Installs the Debian packages swiftlet needs that are missing on this machine. Idempotent.
# The Swift toolchain itself (6.3) must already be on PATH: it is not a Debian package.
# Python 3 and its venv module run Python skills (each skill's requirements go into a venv of its own).
# With --test it also prepares what the test suite uses: the official `openai` package (from PyPI) in
# .build/test-python, against which the OpenAI-compatible API is tested.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(bubblewrap python3 python3-venv libsqlite3-dev libcurl4-openssl-dev libyaml-dev libssl-dev zlib1g-dev curl ca-certificates procps)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift 6.3 toolchain is not on PATH; install it from swift.org and re-run" >&2
  exit 1
fi

if [ "${1:-}" = "--test" ]; then
  if [ ! -x .build/test-python/bin/python ] || ! .build/test-python/bin/python -c "import openai" 2>/dev/null; then
    echo "preparing .build/test-python with the openai package"
    mkdir -p .build
    python3 -m venv .build/test-python
    .build/test-python/bin/pip install --quiet --disable-pip-version-check "openai>=1.40,<3"
  fi
fi
