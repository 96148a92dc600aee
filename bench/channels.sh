#!/usr/bin/env bash
# The channel path of a release build under an offered load: Telegram webhook updates POSTed at a fixed rate →
# webhook route → Telegram plugin → gate (rate limits, access policy) → ingress journal → session lane → agent turn
# → fake OpenAI-wire provider → outbox → Telegram plugin → sendMessage to the fake Telegram. Reports webhook and
# end-to-end latency, the provider time the gateway recorded, gateway overhead (end to end − provider) p50/p99,
# gateway CPU and peak RSS.
#
# Usage: bench/channels.sh [messages] [chats] [rate]     (default 20000 messages from 1000 chats at 1000/s)
# Environment: LATENCY (fake provider time to first token, default 0ms), TOKENS (chunks per answer, default 20),
#              CONCURRENCY (sessions.max_concurrency, default 256), JSON=1 for a JSON report, NO_BUILD=1 to skip building.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000}
chats=${2:-1000}
rate=${3:-1000}

if [ -z "${NO_BUILD:-}" ]; then
  for product in swiftlet Telegram swiftlet-fake-provider swiftlet-channel-load; do
    swift build -c release --product "$product" --scratch-path .build-release >/dev/null
  done
fi
bin=.build-release/release

work=$(mktemp -d)
provider_pid=
cleanup() {
  [ -n "$provider_pid" ] && kill -TERM "$provider_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/swiftlet-fake-provider" --port 0 --latency "${LATENCY:-0ms}" --tokens "${TOKENS:-20}" > "$work/fake.out" 2>&1 &
provider_pid=$!
until grep -q "listening on" "$work/fake.out" 2>/dev/null; do sleep 0.05; done
provider=$(grep -o 'http://[0-9.:]*' "$work/fake.out" | head -1)

echo "swiftlet $(git describe --always --dirty 2>/dev/null || echo '?') · $(nproc) cores · $messages messages from $chats chats at $rate msg/s · provider latency ${LATENCY:-0ms}, ${TOKENS:-20} chunks" >&2
args=(--swiftlet "$bin/swiftlet" --provider "$provider" --messages "$messages" --chats "$chats" --rate "$rate" --concurrency "${CONCURRENCY:-256}")
[ -n "${JSON:-}" ] && args+=(--json)
"$bin/swiftlet-channel-load" "${args[@]}"
provider_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$provider_pid/stat")
echo "fake provider CPU over the whole run (warm-up included): $provider_cpu s" >&2
