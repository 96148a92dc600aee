#!/usr/bin/env bash
# Measures, on a release build: time from `swiftlet gateway start` to /ready answering 200, and the
# resident memory (VmRSS) of the idle gateway 2 s after it is ready. Cold = new workspace (migrations,
# key and token generation); warm = the same workspace started again.
# Usage: bench/startup.sh [runs]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
port=${BENCH_PORT:-18899}
swift build -c release --product swiftlet --scratch-path .build-release >/dev/null
bin=.build-release/release/swiftlet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }

measure() {  # $1 = workspace; prints "ready_ms rss_kb"
  local start pid ready
  start=$(now_ms)
  "$bin" gateway start --workspace "$1" --port "$port" --set logging.stdout=false >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/ready"; do sleep 0.002; done
  ready=$(( $(now_ms) - start ))
  sleep 2
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  echo "$ready $rss"
}

summary() {  # name, then values
  local name=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v name="$name" '{ v[NR] = $1 } END { printf "%-22s min %6d  p50 %6d  max %6d\n", name, v[1], v[int((NR + 1) / 2)], v[NR] }'
}

cold_ready=(); cold_rss=(); warm_ready=(); warm_rss=()
for i in $(seq "$runs"); do
  ws="$work/ws$i"
  "$bin" init "$ws" >/dev/null
  read -r r m < <(measure "$ws"); cold_ready+=("$r"); cold_rss+=("$m")
  read -r r m < <(measure "$ws"); warm_ready+=("$r"); warm_rss+=("$m")
done
echo "swiftlet $("$bin" --version), $runs runs, $(nproc) cores"
summary "cold start to /ready ms" "${cold_ready[@]}"
summary "warm start to /ready ms" "${warm_ready[@]}"
summary "idle RSS KiB (cold)" "${cold_rss[@]}"
summary "idle RSS KiB (warm)" "${warm_rss[@]}"
