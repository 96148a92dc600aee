import FakeProviders
import Foundation
import Testing

@testable import Runtime

/// `swiftlet trace` and `swiftlet top` against a live gateway.
@Suite struct TraceAndTopCommandTests {
    @Test func traceShowsEveryHopAndTopShowsTheLiveFigures() async throws {
        try await MessagePathTests.withGateway { gateway, _ in
            let id = try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("trace me")
                _ = try await chat.reply(to: id)
                return id
            }
            try await Task.sleep(for: .milliseconds(250))  // the delivery mark is written in the next 100 ms batch
            let connection = ["--workspace", gateway.workspace.root.path, "--url", gateway.baseURL, "--token", gateway.controlToken]
            let trace = try await offPool { try CommandLineTests.run(["trace", id] + connection) }
            #expect(trace.status == 0, "\(trace.stderr)")
            for hop in ["received", "routed", "model.start", "model.end", "reply.queued", "reply.sent"] {
                #expect(trace.stdout.contains(hop), "\(hop) missing from:\n\(trace.stdout)")
            }
            // Every hop has its offset from the first one: the gateway's times carry their zone.
            let lines = trace.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let hops = lines.drop { !$0.hasPrefix("offset") }.dropFirst().prefix { !$0.isEmpty }
            #expect(hops.count >= 6, "\(trace.stdout)")
            #expect(hops.first?.hasPrefix("+0.0ms") == true, "\(trace.stdout)")
            let offsets = hops.map { $0.split(separator: " ").first ?? "" }
            #expect(offsets.allSatisfy { $0.hasPrefix("+") && $0.hasSuffix("ms") && Double($0.dropFirst().dropLast(2)) != nil }, "\(trace.stdout)")
            #expect(trace.stdout.contains("reply sent after 1 attempt(s): echo: trace me"))
            let json = try await offPool { try CommandLineTests.run(["trace", id, "--json"] + connection) }
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let events = report["events"] as? [[String: Any]] ?? []
            let times = events.compactMap { $0["at"] as? String } + [(report["message"] as? [String: Any])?["received_at"] as? String ?? ""]
            #expect(times.count >= 7 && times.allSatisfy { $0.hasSuffix("Z") }, "times name their zone (UTC): \(times)")
            #expect(trace.stdout.contains("\"provider\":\"fake\""))

            let unknown = try await offPool { try CommandLineTests.run(["trace", "no-such-message"] + connection) }
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no message with id no-such-message"))

            let top = try await offPool { try CommandLineTests.run(["top", "--count", "1", "--json"] + connection) }
            #expect(top.status == 0, "\(top.stderr)")
            let stats = try #require(try JSONSerialization.jsonObject(with: Data(top.stdout.utf8)) as? [String: Any])
            #expect(stats["totalMessages"] as? Int == 1)
            #expect((stats["providers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["backup", "fake"])
            let screen = try await offPool { try CommandLineTests.run(["top", "--count", "1"] + connection) }
            #expect(screen.stdout.contains("throughput"))
            #expect(screen.stdout.contains("fake"))
        }
    }
}
