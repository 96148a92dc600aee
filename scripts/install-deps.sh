#!/usr/bin/env bash
# Installs the Debian packages swiftlet needs that are missing on this machine. Idempotent.
# The Swift toolchain itself (6.3) must already be on PATH: it is not a Debian package.
# Python 3 and its venv module run Python skills (each skill's requirements go into a venv of its own).
# With --test it also prepares what the test suite uses: the official `openai` package (from PyPI) in
# .build/test-python, against which the OpenAI-compatible API is tested, plus a real llama.cpp
# OpenAI-compatible server (llama-cpp-python[server], compiled from source once into the wheel cache
# .build/wheels: about 8.5 CPU-minutes, 5-10 minutes on 2 cores, then reused) and the `gguf` package that writes the tiny
# random-weight model the tests serve with it (Tests/Scripts/make_tiny_gguf.py, llama_server.py).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(bubblewrap python3 python3-venv libsqlite3-dev libcurl4-openssl-dev libyaml-dev libssl-dev zlib1g-dev curl ca-certificates procps)
if [ "${1:-}" = "--test" ]; then
  # What compiling llama.cpp (llama-cpp-python's sdist) needs: a C/C++ compiler, CMake >= 3.21, Ninja.
  packages+=(build-essential cmake ninja-build)
fi
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

  # llama.cpp's OpenAI-compatible server and the gguf writer, pinned. The server's own dependencies are
  # pinned too: its error bodies and stream framing come from fastapi/starlette/sse-starlette.
  llama_version=0.3.36
  llama_pins=("llama-cpp-python[server]==$llama_version" "gguf==0.19.0"
    "fastapi==0.165.0" "starlette==1.10.0" "sse-starlette==3.7.1" "starlette-context==0.3.6"
    "uvicorn==0.55.0" "pydantic==2.14.4" "pydantic-settings==2.16.3" "numpy==2.4.6" "jinja2==3.1.6")
  if ! .build/test-python/bin/python - "$llama_version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
assert version("llama_cpp_python") == sys.argv[1] and version("gguf") == "0.19.0"
import fastapi, sse_starlette, uvicorn, starlette_context, pydantic_settings  # the [server] extra
PY
  then
    # Build the wheel once (CPU only: no BLAS, no OpenMP, no multimodal library; GGML_NATIVE=OFF so the cached
    # wheel does not depend on this CPU's exact instruction set beyond AVX2), reuse it afterwards.
    if ! compgen -G ".build/wheels/llama_cpp_python-$llama_version-*.whl" >/dev/null; then
      echo "building llama-cpp-python $llama_version into .build/wheels (compiles llama.cpp: 5-10 minutes on 2 cores)"
      mkdir -p .build/wheels
      started=$SECONDS
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF" \
        .build/test-python/bin/pip wheel --quiet --disable-pip-version-check --no-binary llama-cpp-python \
        -w .build/wheels "${llama_pins[@]}"
      echo "built llama-cpp-python in $((SECONDS - started)) s"
    fi
    echo "installing llama-cpp-python $llama_version and gguf into .build/test-python"
    .build/test-python/bin/pip install --quiet --disable-pip-version-check --find-links .build/wheels \
      --only-binary llama-cpp-python "${llama_pins[@]}"
  fi
fi
