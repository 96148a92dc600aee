import ArgumentParser
import Foundation
import Runtime

/// `swiftlet top`: live throughput, latency, sessions and provider health, refreshed in the terminal.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Watch throughput, latency percentiles, active sessions and provider health.")

    @OptionGroup var options: WorkspaceOptions
    @OptionGroup var client: ClientOptions
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (0: until Ctrl-C).") var count = 0
    @Flag(help: "Print one JSON snapshot per refresh instead of the screen.") var json = false

    func run() async throws {
        guard interval >= 0.1 else {
            printError("--interval must be at least 0.1")
            throw ExitCode(64)
        }
        let admin = try await client.connect(options)
        var shown = 0
        while count == 0 || shown < count {
            let body = try await client.fetch(admin, "/admin/v1/stats")
            if json {
                let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
                print(String(decoding: data, as: UTF8.self))
            } else {
                // Clear the screen and home the cursor, as top does.
                print("\u{1B}[2J\u{1B}[H" + TopScreen.render(body, url: admin.baseURL), terminator: "")
            }
            shown += 1
            if count == 0 || shown < count { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
        }
    }
}

enum TopScreen {
    static func render(_ body: [String: Any], url: String) -> String {
        func number(_ key: String) -> Double { (body[key] as? Double) ?? Double(body[key] as? Int ?? 0) }
        var lines = [
            "swiftlet top · \(url) · \(Date().formatted(date: .omitted, time: .standard))",
            "",
            String(format: "throughput  %8.1f msg/s   (last %.0f s)   total %d, failed %d", number("messagesPerSecond"), number("windowSeconds"), Int(number("totalMessages")), Int(number("failedTurns"))),
            String(format: "latency     p50 %7.1f ms   p90 %7.1f ms   p99 %7.1f ms", number("latencyP50Ms"), number("latencyP90Ms"), number("latencyP99Ms")),
            String(format: "overhead    p50 %7.2f ms   p99 %7.2f ms   (latency minus provider time)", number("overheadP50Ms"), number("overheadP99Ms")),
            String(format: "turns       %d running, %d queued, %d sessions active", Int(number("activeTurns")), Int(number("queuedMessages")), Int(number("activeSessions"))),
            "",
            "provider        kind       breaker     calls   failed  last latency  last error",
        ]
        for provider in body["providers"] as? [[String: Any]] ?? [] {
            let latency = (provider["lastLatencyMs"] as? Double).map { String(format: "%.0f ms", $0) } ?? "-"
            lines.append(
                padded(provider["name"] as? String ?? "", 16) + padded(provider["kind"] as? String ?? "", 11)
                    + padded(provider["breaker"] as? String ?? "", 12) + padded("\(provider["calls"] ?? 0)", 8)
                    + padded("\(provider["failures"] ?? 0)", 8) + padded(latency, 14) + String((provider["lastError"] as? String ?? "").prefix(60)))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
