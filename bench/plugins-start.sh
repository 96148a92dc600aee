#!/usr/bin/env bash
# Start time with many plugins: generates N small tool plugins (one package, N .dynamic products built against
# this checkout's PluginAPI), registers them all in a workspace's tools.json, and measures `gateway start` to
# /ready answering 200 with every plugin loaded, against the same workspace with an empty tools.json.
#
# Usage: bench/plugins-start.sh [plugins] [runs]     (default 20 plugins, 10 runs). Release builds; the
# generated package builds into .build-bench-plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20}
runs=${2:-10}
port=${BENCH_PORT:-18898}
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pkg="$work/pkg"
mkdir -p "$pkg"
{
  echo '// swift-tools-version:6.2'
  echo 'import PackageDescription'
  echo 'let names = (1...'"$count"').map { $0 < 10 ? "Bench0\($0)" : "Bench\($0)" }'
  echo 'let package = Package('
  echo '    name: "BenchPlugins",'
  echo '    products: names.map { (name: String) -> Product in .library(name: name, type: .dynamic, targets: [name]) },'
  echo '    dependencies: [.package(path: "'"$root"'/PluginAPI")],'
  echo '    targets: names.map { (name: String) -> Target in'
  echo '        .target(name: name, dependencies: [.product(name: "PluginAPI", package: "PluginAPI")],'
  echo '                linkerSettings: [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "nodelete"])])'
  echo '    },'
  echo '    swiftLanguageModes: [.v6]'
  echo ')'
} > "$pkg/Package.swift"
for i in $(seq "$count"); do
  name=$(printf 'Bench%02d' "$i"); plugin=$(printf 'bench_%02d' "$i")
  mkdir -p "$pkg/Sources/$name"
  cat > "$pkg/Sources/$name/$name.swift" <<SWIFT
import PluginAPI

struct Plugin: ToolPlugin {
    let metadata = PluginMetadata(name: "$plugin", version: "1.0.0", kind: .tool)
    let functions = [ToolFunction(name: "${plugin}_echo", description: "Echoes its text.", parameters: #"{"type":"object","properties":{"text":{"type":"string"}}}"#)]
    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String { call.arguments }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(Plugin()) }
SWIFT
done
echo "building $count plugins and swiftlet (release)..." >&2
(cd "$pkg" && swift build -c release --scratch-path "$root/.build-bench-plugins" >/dev/null)
swift build -c release --product swiftlet --scratch-path .build-release >/dev/null
bin=.build-release/release/swiftlet
built="$root/.build-bench-plugins/release"

ws="$work/ws"
"$bin" init "$ws" >/dev/null
entries=$(for i in $(seq "$count"); do printf '{"name": "bench_%02d", "file": "%s/libBench%02d.so"}' "$i" "$built" "$i"; if [ "$i" -lt "$count" ]; then printf ','; fi; done)
with_plugins="{\"version\": 1, \"plugins\": [$entries]}"
without_plugins='{"version": 1, "plugins": []}'

now_ms() { date +%s%3N; }
measure() {  # prints ms to /ready; checks the plugins check says what is expected
  local start pid ready
  start=$(now_ms)
  "$bin" gateway start --workspace "$ws" --port "$port" --set logging.stdout=false >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o "$work/ready.json" "http://127.0.0.1:$port/ready"; do sleep 0.002; done
  ready=$(( $(now_ms) - start ))
  grep -q "\"$1 loaded, 0 failed" "$work/ready.json" || { echo "unexpected /ready: $(cat "$work/ready.json")" >&2; kill "$pid"; exit 1; }
  kill -TERM "$pid"; wait "$pid" || true
  echo "$ready"
}
summary() {
  local name=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v name="$name" '{ v[NR] = $1 } END { printf "%-34s min %5d  p50 %5d  max %5d\n", name, v[1], v[int((NR + 1) / 2)], v[NR] }'
}
measure 0 >/dev/null  # first start: migrations, key and token
with=(); without=()
for _ in $(seq "$runs"); do
  echo "$without_plugins" > "$ws/tools.json"; without+=("$(measure 0)")
  echo "$with_plugins" > "$ws/tools.json"; with+=("$(measure "$count")")
done
echo "swiftlet $(git describe --always --dirty 2>/dev/null || echo '?'), $runs runs, $(nproc) cores"
summary "start to /ready, no plugins (ms)" "${without[@]}"
summary "start to /ready, $count plugins (ms)" "${with[@]}"
