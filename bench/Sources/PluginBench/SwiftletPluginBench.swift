import Foundation
import Logging
import Runtime

/// `swiftlet-plugin-bench`: the cost of calling a plugin tool in-process and of hot-reloading it.
///
/// Loads `libFixtureToolPlugin.so` from beside this executable (build it with the same configuration) into a
/// throwaway workspace, then measures:
/// - a call through the tool registry to the plugin's `fixture_noop` (returns "ok" without work), against the
///   same call to a built-in tool that does nothing: the difference is what the plugin boundary costs;
/// - `PluginCatalog.reload` of that plugin, with no call in flight;
/// - the same no-op call to the plugin loaded with `"isolation": "process"` (a round trip to `swiftlet plugin-host`
///   in its bubblewrap sandbox; `swiftlet` must be built beside this executable), one call at a time.
@main
struct SwiftletPluginBench {
    struct NoopTool: AgentTool {
        let definition = ToolDefinition(name: "builtin_noop", description: "Does nothing.", parameters: .object(["type": .string("object")]))
        func run(arguments: JSONValue, context: ToolContext) async throws -> String { "ok" }
    }

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let calls = arguments.first.flatMap(Int.init) ?? 200_000
        let reloads = arguments.dropFirst().first.flatMap(Int.init) ?? 50
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let workspace = Workspace(root: FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-plugin-bench-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: workspace.root) }
        _ = try workspace.scaffold()
        try #"{"version": 1, "plugins": [{"name": "fixture_tools", "file": "libFixtureToolPlugin.so"}]}"#.write(
            to: workspace.toolsFile, atomically: true, encoding: .utf8)
        let store = try SQLiteStore(path: workspace.dataDirectory.appendingPathComponent("bench.sqlite").path)
        let tools = ToolRegistry([NoopTool()])
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let catalog = PluginCatalog(workspace: workspace, store: store, tools: tools, logger: logger, searchDirectories: [directory])
        let loaded = try await catalog.loadAll()
        guard loaded.first?.state == .loaded else {
            print("the fixture plugin did not load: \(loaded.first?.error ?? "not registered") (build it: swift build -c release --product FixtureToolPlugin)")
            return
        }
        let context = ToolContext(messageID: "bench", sessionID: "bench", channel: "bench", sender: "bench")

        // Measured off the main actor, where `main` runs: otherwise every call would include two executor hops.
        func perCall(_ name: String) async -> [Double] {
            await Task.detached {
                let call = ToolCall(id: "c", name: name, arguments: "{}")
                let batch = 1_000
                var samples: [Double] = []
                for _ in 0..<(calls / batch) {
                    let start = ContinuousClock.now
                    for _ in 0..<batch {
                        let result = await tools.run(call, context: context)
                        precondition(result.output == "ok", "\(name): \(result.output)")
                    }
                    samples.append((ContinuousClock.now - start).milliseconds * 1_000 / Double(batch))
                }
                return samples.sorted()
            }.value
        }
        _ = await perCall("fixture_noop")  // warm-up
        let builtin = await perCall("builtin_noop")
        let plugin = await perCall("fixture_noop")
        func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p / 100))] }
        print("calls: \(calls) each, mean per call over batches of 1000 (µs)      p50      p90      p99")
        for (label, samples) in [("built-in no-op tool", builtin), ("plugin no-op function", plugin)] {
            print(label.padding(toLength: 60, withPad: " ", startingAt: 0) + [50.0, 90, 99].map { String(format: "%9.2f", percentile(samples, $0)) }.joined())
        }
        print(String(format: "plugin boundary (p50 difference): %.2f µs", percentile(plugin, 50) - percentile(builtin, 50)))

        var reloadTimes: [Double] = []
        for _ in 0..<reloads {
            let reports = try await catalog.reload("fixture_tools")
            guard let report = reports.first, report.outcome == .reloaded else {
                print("reload failed: \(reports)")
                return
            }
            reloadTimes.append(report.milliseconds)
        }
        reloadTimes.sort()
        print(
            String(
                format: "hot reload (%d reloads, copy + dlopen + checks + swap + drain, ms): p50 %.2f  p90 %.2f  max %.2f", reloads, percentile(reloadTimes, 50),
                percentile(reloadTimes, 90), reloadTimes.last ?? 0))
        await catalog.shutdown()
        try await store.close()
        try await isolated(directory: directory, calls: min(calls, 20_000), context: context, logger: logger)
    }

    /// Round trips to the isolated plugin, timed one by one.
    static func isolated(directory: URL, calls: Int, context: ToolContext, logger: Logger) async throws {
        let workspace = Workspace(root: FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-plugin-bench-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: workspace.root) }
        _ = try workspace.scaffold()
        try #"{"version": 1, "plugins": [{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "isolation": "process"}]}"#.write(
            to: workspace.toolsFile, atomically: true, encoding: .utf8)
        let store = try SQLiteStore(path: workspace.dataDirectory.appendingPathComponent("bench.sqlite").path)
        let tools = ToolRegistry()
        let catalog = PluginCatalog(
            workspace: workspace, store: store, tools: tools, logger: logger, searchDirectories: [directory],
            hostExecutable: directory.appendingPathComponent("swiftlet"))
        let started = ContinuousClock.now
        let loaded = try await catalog.loadAll()
        let startup = (ContinuousClock.now - started).milliseconds
        guard loaded.first?.state == .loaded else {
            print("the isolated plugin did not load: \(loaded.first?.error ?? "not registered") (build swiftlet too: swift build -c release --product swiftlet)")
            return
        }
        let samples = await Task.detached {
            let call = ToolCall(id: "c", name: "fixture_noop", arguments: "{}")
            var samples: [Double] = []
            samples.reserveCapacity(calls)
            for index in 0..<(calls + 1_000) {
                let start = ContinuousClock.now
                let result = await tools.run(call, context: context)
                let elapsed = (ContinuousClock.now - start).milliseconds * 1_000
                precondition(result.output == "ok", "isolated: \(result.output)")
                if index >= 1_000 { samples.append(elapsed) }  // the first thousand warm up
            }
            return samples.sorted()
        }.value
        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p / 100))] }
        print(
            String(
                format: "isolated plugin no-op round trip (%d calls, one at a time, µs): p50 %.1f  p90 %.1f  p99 %.1f   (sandbox start to loaded: %.0f ms)",
                calls, percentile(50), percentile(90), percentile(99), startup))
        await catalog.shutdown()
        try await store.close()
    }
}
