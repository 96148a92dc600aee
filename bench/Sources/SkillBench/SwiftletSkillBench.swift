import Foundation
import Logging
import Runtime
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `swiftlet-skill-bench [runs] [concurrent]`: what the sandbox costs a skill run, and whether many at once hold up.
///
/// 1. The same Python script, run `runs` times one after another: spawned bare (the interpreter, input on stdin,
///    output collected) and through the skill runner (bwrap, swiftlet-skill-launch, limits, unprivileged uid).
///    The difference of the medians is the sandbox's overhead.
/// 2. `concurrent` runs started at once, five rounds: every failure counted.
@main
struct SwiftletSkillBench {
    static let script = "import json, sys\nrequest = json.load(sys.stdin)\nprint(json.dumps({'echo': request['text']}))\n"

    static func main() async throws {
        let arguments = CommandLine.arguments
        let runs = arguments.count > 1 ? Int(arguments[1]) ?? 200 : 200
        let concurrent = arguments.count > 2 ? Int(arguments[2]) ?? 50 : 50
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-skill-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("skills/echo")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "---\nname: echo\ndescription: echoes\nruntime: python\nentry: main.py\n---\n".write(
            to: folder.appendingPathComponent("SKILL.md"), atomically: true, encoding: .utf8)
        try script.write(to: folder.appendingPathComponent("main.py"), atomically: true, encoding: .utf8)
        try #"{"version": 1, "skills": [{"name": "echo"}]}"#.write(to: root.appendingPathComponent("tools.json"), atomically: true, encoding: .utf8)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let catalog = SkillCatalog(workspace: Workspace(root: root), tools: ToolRegistry(), logger: logger)
        let runner = try await catalog.prepare("echo")
        let input = JSONValue.object(["text": .string("hello")])
        let inputBytes = Array((input.jsonText + "\n").utf8)

        func bare() async throws -> Double {
            let started = ContinuousClock.now
            let result = try await Subprocess.run(
                .path(FilePath("/usr/bin/python3")), arguments: ["-E", "-s", "-B", folder.appendingPathComponent("main.py").path],
                input: .array(inputBytes), output: .string(limit: 1 << 20), error: .discarded)
            guard result.standardOutput.contains("hello") else { throw ToolError("bare run failed") }
            return (ContinuousClock.now - started).milliseconds
        }
        func sandboxed() async throws -> Double {
            let started = ContinuousClock.now
            let outcome = await runner.run(input: input)
            guard case .success(let text) = outcome, text.contains("hello") else { throw ToolError("sandboxed run failed: \(outcome)") }
            return (ContinuousClock.now - started).milliseconds
        }
        func percentile(_ samples: [Double], _ p: Double) -> Double {
            let sorted = samples.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p / 100))]
        }

        // Warm both paths (page cache, Python's imports), then alternate so drift hits both alike.
        for _ in 0..<5 {
            _ = try await bare()
            _ = try await sandboxed()
        }
        var bareSamples: [Double] = []
        var sandboxSamples: [Double] = []
        for _ in 0..<runs {
            bareSamples.append(try await bare())
            sandboxSamples.append(try await sandboxed())
        }
        print("runs: \(runs) sequential, python3 echo script")
        for (name, samples) in [("bare spawn", bareSamples), ("sandboxed", sandboxSamples)] {
            print(String(format: "%@: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms", name, percentile(samples, 50), percentile(samples, 90), percentile(samples, 99)))
        }
        print(String(format: "sandbox overhead p50: %.2f ms", percentile(sandboxSamples, 50) - percentile(bareSamples, 50)))

        var failures = 0
        var total = 0
        var walls: [Double] = []
        var latencies: [Double] = []
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let results = await withTaskGroup(of: Result<Double, any Error>.self) { group in
                for _ in 0..<concurrent { group.addTask { do { return .success(try await sandboxed()) } catch { return .failure(error) } } }
                var results: [Result<Double, any Error>] = []
                for await result in group { results.append(result) }
                return results
            }
            walls.append((ContinuousClock.now - started).milliseconds)
            for result in results {
                total += 1
                switch result {
                case .success(let milliseconds): latencies.append(milliseconds)
                case .failure(let error):
                    failures += 1
                    if failures <= 3 { print("failure: \(error)") }
                }
            }
        }
        print(
            String(
                format: "%d at once x 5 rounds: %d runs, %d failed; round wall p50 %.0f ms; run latency p50 %.0f ms, p99 %.0f ms; %.0f runs/s",
                concurrent, total, failures, percentile(walls, 50), percentile(latencies, 50), percentile(latencies, 99),
                Double(total) / (walls.reduce(0, +) / 1000)))
        await runner.close()
        if failures > 0 { throw ToolError("\(failures) runs failed") }
    }
}
