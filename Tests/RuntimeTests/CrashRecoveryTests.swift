import FakeProviders
import Foundation
import Testing

@testable import Runtime

/// Kills a real gateway process in the middle of a turn and restarts it: the message is answered once.
@Suite(.serialized) struct CrashRecoveryTests {
    /// A `swiftlet gateway start` child process and the dashboard URL it printed.
    struct RunningGateway: @unchecked Sendable {  // Process is not Sendable; each test uses its own, from one task at a time.
        var process: Process
        var port: Int
        var token: String
    }

    static func start(_ workspace: Workspace) async throws -> RunningGateway {
        try await offPool { try launch(workspace) }
    }

    static func launch(_ workspace: Workspace) throws -> RunningGateway {
        let launched = try CommandLineTests.launchGateway(workspace)
        let (process, banner) = (launched.process, launched.banner)
        guard let line = banner.split(separator: "\n").first(where: { $0.hasPrefix("Dashboard") }), let url = line.split(separator: " ").last,
            let components = URLComponents(string: String(url)), let port = components.port,
            let token = components.queryItems?.first(where: { $0.name == "token" })?.value
        else {
            process.terminate()
            throw WebChatProbe.Timeout(waitingFor: "the dashboard URL", seen: [banner])
        }
        return RunningGateway(process: process, port: port, token: token)
    }

    @Test func killedMidTurnTheMessageIsAnsweredExactlyOnceAfterRestart() async throws {
        let fake = FakeProvider()
        fake.enqueue(.hang)
        try await FakeProviderServer.withServer(fake) { server in
            let workspace = try TestGateway.makeWorkspace(
                config: """
                    providers:
                      fake:
                        base_url: \(server.baseURL)/v1
                        first_token_timeout: 60s
                    agent:
                      models: [fake/m1]
                    """)
            let first = try await Self.start(workspace)
            let messageID = try await WebChatProbe.with(port: first.port, token: first.token) { chat in
                let id = try await chat.send("survive this")
                while fake.requestCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                return id
            }
            kill(first.process.processIdentifier, SIGKILL)
            try await offPool { first.process.waitUntilExit() }
            #expect(first.process.terminationReason == .uncaughtSignal)

            let second = try await Self.start(workspace)
            let history = try await WebChatProbe.with(port: second.port, token: second.token) { chat in
                // The resumed turn may finish before this socket connects; the transcript is the durable copy.
                while fake.requestCount < 2 { try await Task.sleep(for: .milliseconds(10)) }
                var messages: [[String: Any]] = []
                for _ in 0..<200 {
                    let id = try await chat.request("chat.history", [:])
                    let response = try await chat.wait(for: "history \(id)") { $0["id"] as? String == id }
                    messages = (response["result"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
                    if messages.contains(where: { $0["role"] as? String == "assistant" }) { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return messages.map { "\($0["role"] ?? ""): \($0["text"] ?? "")" }
            }
            #expect(history == ["user: survive this", "assistant: echo: survive this"])
            second.process.terminate()
            try await offPool { second.process.waitUntilExit() }
            #expect(second.process.terminationStatus == 0)

            // A third start finds nothing left to do: the message is not answered again.
            let third = try await Self.start(workspace)
            try await Task.sleep(for: .milliseconds(500))
            #expect(fake.requestCount == 2)
            third.process.terminate()
            try await offPool { third.process.waitUntilExit() }

            let store = try SQLiteStore(path: workspace.path("data/swiftlet.sqlite").path)
            let entry = try #require(await store.journalEntry(id: messageID))
            #expect(entry.status == .done)
            let reply = try #require(await store.outboxEntry(id: "\(messageID):reply"))
            #expect(reply.status == .sent)
            let hops = try await store.traceEvents(messageID: messageID).map(\.hop)
            #expect(hops.contains("resumed"))
            #expect(hops.filter { $0 == "reply.queued" }.count == 1)
            try await store.close()
        }
    }
}
