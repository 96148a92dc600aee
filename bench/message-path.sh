#!/usr/bin/env bash
# Pushes N messages over M concurrent web chat sessions through the whole message path of a release build:
# WebSocket in → ingress journal → session lane → agent turn → fake OpenAI-wire provider → outbox → WebSocket out.
# Reports throughput, gateway overhead (reply latency minus provider time) p50/p99 and the gateway's peak RSS.
#
# Usage: bench/message-path.sh [messages] [sessions]     (default 20000 messages over 1000 sessions)
# Environment: LATENCY (fake provider time to first token, default 0ms), TOKENS (chunks per answer, default 20),
#              CONCURRENCY (sessions.max_concurrency, default 256), RATE (offered messages/s over all sessions, open loop;
#              default: closed loop, each session sends on the previous reply), JSON=1 for a JSON report, NO_BUILD=1 to skip building.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000}
sessions=${2:-1000}
latency=${LATENCY:-0ms}
tokens=${TOKENS:-20}
concurrency=${CONCURRENCY:-256}

if [ -z "${NO_BUILD:-}" ]; then
  for product in swiftlet swiftlet-fake-provider swiftlet-load; do
    swift build -c release --product "$product" --scratch-path .build-release >/dev/null
  done
fi
bin=.build-release/release

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/swiftlet-fake-provider" --port 0 --latency "$latency" --tokens "$tokens" > "$work/fake.out" 2>&1 &
pids+=($!)
until grep -q "listening on" "$work/fake.out" 2>/dev/null; do sleep 0.05; done
provider=$(grep -o 'http://[0-9.:]*' "$work/fake.out" | head -1)

mkdir -p "$work/ws"
cat > "$work/ws/config.yaml" <<YAML
providers:
  fake:
    base_url: $provider/v1
agent:
  models: [fake/m1]
sessions:
  max_concurrency: $concurrency
logging:
  level: warning
  stdout: false
YAML
"$bin/swiftlet" gateway start --workspace "$work/ws" --port 0 --print-dashboard-url > "$work/gateway.out" 2>&1 &
gateway=$!
pids+=($gateway)
until grep -q "^Dashboard" "$work/gateway.out" 2>/dev/null; do
  kill -0 "$gateway" 2>/dev/null || { cat "$work/gateway.out" >&2; exit 1; }
  sleep 0.05
done
url=$(grep "^Dashboard" "$work/gateway.out" | grep -o 'http://[^ ]*')
token=${url##*token=}
base=${url%%/\?token=*}

echo "swiftlet $(git describe --always --dirty 2>/dev/null || echo '?') · $(nproc) cores · $messages messages over $sessions sessions · provider latency $latency, $tokens chunks · max_concurrency $concurrency${RATE:+ · offered $RATE msg/s}" >&2
args=(--url "$base" --token "$token" --sessions "$sessions" --messages "$messages" --warmup 1 --gateway-pid "$gateway")
[ -n "${RATE:-}" ] && args+=(--rate "$RATE")
[ -n "${JSON:-}" ] && args+=(--json)
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
gateway_before=$(cpu_seconds "$gateway"); provider_before=$(cpu_seconds "${pids[0]}")
"$bin/swiftlet-load" "${args[@]}" &
driver=$!
driver_cpu=0
while kill -0 "$driver" 2>/dev/null; do
  driver_cpu=$(cpu_seconds "$driver" 2>/dev/null || echo "$driver_cpu")
  sleep 0.2
done
wait "$driver"
gateway_cpu=$(awk -v a="$gateway_before" -v b="$(cpu_seconds "$gateway")" 'BEGIN { printf "%.2f", b - a }')
provider_cpu=$(awk -v a="$provider_before" -v b="$(cpu_seconds "${pids[0]}")" 'BEGIN { printf "%.2f", b - a }')
echo "CPU seconds during the run (user+system): gateway $gateway_cpu, fake provider $provider_cpu, load driver ≥ $driver_cpu (sampled every 0.2 s)" >&2
