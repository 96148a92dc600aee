import FakeProviders
import Foundation
import Testing

@testable import Runtime

/// The whole path through a real gateway: web chat → journal → lane → agent → fake provider → outbox → web chat.
@Suite struct MessagePathTests {
    static func config(_ server: FakeProviderServer, firstTokenTimeout: String = "10s", extra: String = "") -> String {
        """
        providers:
          fake:
            kind: openai
            base_url: \(server.baseURL)/v1
            api_key: sk-test
            first_token_timeout: \(firstTokenTimeout)
            idle_timeout: 10s
          backup:
            kind: anthropic
            base_url: \(server.baseURL)
            api_key: sk-test
        agent:
          models: [fake/m1]
        router:
          backoff_base: 10ms
          max_attempts: 2
        \(extra)
        """
    }

    /// A gateway wired to a fake provider, for the duration of `body`.
    static func withGateway(
        fake: FakeProvider = FakeProvider(), firstTokenTimeout: String = "10s", extraConfig: String = "", _ body: @Sendable (TestGateway, FakeProvider) async throws -> Void
    ) async throws {
        try await FakeProviderServer.withServer(fake) { server in
            let gateway = try await TestGateway.start(config: config(server, firstTokenTimeout: firstTokenTimeout, extra: extraConfig))
            do {
                try await body(gateway, fake)
            } catch {
                try? await gateway.stop()
                throw error
            }
            try await gateway.stop()
        }
    }

    @Test func aMessageIsStreamedAnsweredStoredAndTraced() async throws {
        try await Self.withGateway { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("hello swiftlet")
                let reply = try await chat.reply(to: id)
                let data = try #require(reply["data"] as? [String: Any])
                #expect(reply["event"] as? String == "chat.message")
                #expect(data["text"] as? String == "echo: hello swiftlet")
                #expect(data["model"] as? String == "fake/m1")
                let timings = try #require(data["timings"] as? [String: Any])
                #expect((timings["total_ms"] as? Double ?? -1) >= (timings["provider_ms"] as? Double ?? 0))
                let deltas = chat.received.filter { $0["event"] as? String == "chat.delta" }
                #expect(deltas.count > 1)
                #expect(deltas.compactMap { ($0["data"] as? [String: Any])?["text"] as? String }.joined() == "echo: hello swiftlet")
                let sequence = chat.received.compactMap { $0["seq"] as? Int }
                #expect(sequence == Array(1...sequence.count), "events are numbered without gaps")
            }
            #expect(fake.lastRequest?.messages.first?["role"]?.stringValue == "system")
            #expect(fake.lastRequest?.body?["tools"]?.arrayValue?.first?["function"]?["name"]?.stringValue == "current_time")

            let session = try await gateway.state.store.session(key: "webchat:dm:owner", channel: "webchat", peer: "owner")
            let stored = try await gateway.state.store.messages(sessionID: session.id, limit: 10)
            #expect(stored.map(\.role) == [.user, .assistant])
            let messageID = stored[0].messageID
            let trace = try await gateway.request("/admin/v1/trace/\(messageID)", token: gateway.controlToken)
            #expect(trace.status == 200)
            let hops = (trace.json["events"] as? [[String: Any]] ?? []).compactMap { $0["hop"] as? String }
            #expect(Array(hops.prefix(5)) == ["received", "routed", "model.start", "model.end", "reply.queued"])
            let journal = try #require(await gateway.state.store.journalEntry(id: messageID))
            #expect(journal.status == .done)
            let usage = try await gateway.request("/admin/v1/stats", token: gateway.controlToken)
            #expect((usage.json["totalMessages"] as? Int ?? 0) >= 1)
        }
    }

    @Test func toolCallsRunAndTheirResultsReachTheModel() async throws {
        let fake = FakeProvider()
        fake.enqueue(
            .toolCalls([FakeToolCall(name: "current_time", argumentsJSON: #"{"timezone":"UTC"}"#), FakeToolCall(name: "no_such_tool")]),
            .text("It is late."))
        try await Self.withGateway(fake: fake) { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("what time is it?")
                let reply = try await chat.reply(to: id)
                #expect((reply["data"] as? [String: Any])?["text"] as? String == "It is late.")
            }
            let sent = try #require(fake.lastRequest?.messages)
            let toolResults = sent.filter { $0["role"]?.stringValue == "tool" }
            #expect(toolResults.count == 2)
            #expect(toolResults[0]["content"]?.stringValue?.contains("time zone") == true)
            #expect(toolResults[1]["content"]?.stringValue?.contains("there is no tool named 'no_such_tool'") == true)
        }
    }

    @Test("tools.rules: a tool the sender may not trigger is not offered, and a call to it anyway is refused")
    func toolPolicyIsApplied() async throws {
        let fake = FakeProvider()
        fake.enqueue(.toolCalls([FakeToolCall(name: "current_time", argumentsJSON: #"{"timezone":"UTC"}"#)]), .text("I may not look."))
        let policy = """
            tools:
              rules:
                current_time:
                  allow: ["telegram:*"]
            """
        try await Self.withGateway(fake: fake, extraConfig: policy) { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("what time is it?")
                #expect(((try await chat.reply(to: id))["data"] as? [String: Any])?["text"] as? String == "I may not look.")
            }
            let sent = try #require(fake.lastRequest)
            #expect(sent.body?["tools"] == nil || sent.body?["tools"]?.arrayValue?.isEmpty == true)
            let toolResult = sent.messages.first { $0["role"]?.stringValue == "tool" }?["content"]?.stringValue ?? ""
            #expect(toolResult.contains("the tool 'current_time' is not allowed in this conversation"), "\(toolResult)")
            let system = sent.messages.first { $0["role"]?.stringValue == "system" }?["content"]?.stringValue ?? ""
            #expect(!system.contains("current_time"))
        }
    }

    @Test func providerFailureFailsOverAndTotalFailureIsExplained() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 500), .error(status: 500), model: "m1")
        try await Self.withGateway(fake: fake) { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                // Only fake/m1 is configured: two 500s exhaust it and the user is told why.
                let id = try await chat.send("anyone there?")
                let reply = try await chat.reply(to: id)
                #expect(reply["event"] as? String == "chat.error")
                let data = try #require(reply["data"] as? [String: Any])
                #expect(data["code"] as? String == "provider_failed")
                #expect((data["message"] as? String)?.contains("HTTP 500") == true)
                // The session goes on: the next message is answered.
                let next = try await chat.send("and now?")
                #expect((try await chat.reply(to: next))["event"] as? String == "chat.message")
            }
        }
    }

    @Test func chatCommandsWork() async throws {
        try await Self.withGateway { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                func answer(_ text: String) async throws -> String {
                    let id = try await chat.send(text)
                    return (try await chat.reply(to: id)["data"] as? [String: Any])?["text"] as? String ?? ""
                }
                #expect(try await answer("/help").contains("/model"))
                _ = try await answer("remember the word pelican")
                let status = try await answer("/status")
                #expect(status.contains("Model: fake/m1"))
                #expect(status.contains("Providers:"))
                #expect(try await answer("/model nope/m").contains("no provider named 'nope'"))
                #expect(try await answer("/model backup/claude-x").contains("now uses backup/claude-x"))
                _ = try await answer("who answers?")
                #expect(fake.lastRequest?.path == "/v1/messages")
                #expect(fake.lastRequest?.model == "claude-x")
                #expect(try await answer("/model default").contains("fake/m1"))
                #expect(try await answer("/new").contains("fresh conversation"))
                _ = try await answer("first after reset")
                let sent = fake.lastRequest?.messages ?? []
                #expect(!sent.contains { $0["content"]?.stringValue?.contains("pelican") == true }, "a reset drops earlier turns from the context")
                #expect(sent.last?["content"]?.stringValue == "first after reset")
                #expect(!sent.contains { $0["content"]?.stringValue?.hasPrefix("/") == true }, "commands are not sent to the model")
                #expect(try await answer("/stop").contains("Nothing was running"))
            }
        }
    }

    @Test func stopCancelsTheRunningTurn() async throws {
        let fake = FakeProvider()
        fake.enqueue(.hang)
        try await Self.withGateway(fake: fake, firstTokenTimeout: "60s") { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let slow = try await chat.send("take your time")
                while fake.requestCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                let stop = try await chat.send("/stop")
                #expect((try await chat.reply(to: stop)["data"] as? [String: Any])?["text"] as? String == "Stopped.")
                let next = try await chat.send("still there?")
                #expect((try await chat.reply(to: next)["data"] as? [String: Any])?["text"] as? String == "echo: still there?")
                let answeredSlow = chat.received.contains { frame in
                    (frame["data"] as? [String: Any])?["in_reply_to"] as? String == slow && frame["event"] as? String == "chat.message"
                }
                #expect(!answeredSlow)
                let entry = try #require(await gateway.state.store.journalEntry(id: slow))
                let trace = try await gateway.request("/admin/v1/trace/\(slow)", token: gateway.controlToken)
                #expect(entry.status == .cancelled, "\(trace.body)")
            }
        }
    }

    @Test func longConversationsAreCompacted() async throws {
        let fake = FakeProvider()
        try await FakeProviderServer.withServer(fake) { server in
            let merged = """
                providers:
                  fake:
                    base_url: \(server.baseURL)/v1
                    context_window: 600
                agent:
                  models: [fake/m1]
                  max_output_tokens: 64
                  compaction_threshold: 50
                  keep_recent_messages: 2
                """
            let gateway = try await TestGateway.start(config: merged)
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let filler = String(repeating: "lorem ipsum dolor sit amet ", count: 20)
                for turn in 1...6 {
                    let id = try await chat.send("turn \(turn): \(filler)")
                    _ = try await chat.reply(to: id)
                }
            }
            let compactions = fake.requests.filter { $0.messages.first?["content"]?.stringValue?.hasPrefix("You compress conversations") == true }
            #expect(!compactions.isEmpty)
            let last = try #require(fake.requests.last)
            #expect(last.messages.contains { $0["content"]?.stringValue?.hasPrefix("Summary of the earlier conversation") == true })
            let session = try await gateway.state.store.session(key: "webchat:dm:owner", channel: "webchat", peer: "owner")
            let state = try await gateway.state.store.sessionState(sessionID: session.id)
            #expect(state.summary?.isEmpty == false)
            #expect(try await gateway.state.store.messages(sessionID: session.id, limit: 100).filter { $0.role == .user }.count == 6, "the full transcript is kept")
            try await gateway.stop()
        }
    }

    @Test func redeliveredClientMessageIsNotAnsweredTwice() async throws {
        try await Self.withGateway { gateway, fake in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let first = try await chat.request("chat.send", ["text": "once", "client_id": "abc"])
                let firstResponse = try await chat.wait(for: "first") { $0["id"] as? String == first }
                let id = try #require((firstResponse["result"] as? [String: Any])?["message_id"] as? String)
                _ = try await chat.reply(to: id)
                let again = try await chat.request("chat.send", ["text": "once", "client_id": "abc"])
                let second = try await chat.wait(for: "second") { $0["id"] as? String == again }
                #expect((second["result"] as? [String: Any])?["duplicate"] as? Bool == true)
                #expect((second["result"] as? [String: Any])?["message_id"] as? String == id)
            }
            #expect(fake.requestCount == 1)
        }
    }

    /// Faults a user can meet, each answered with a clear message while nothing is lost and the session goes on.
    /// Retryable faults are met on both attempts (router.max_attempts is 2 here); the others end the call at once.
    /// The person gets one short sentence; the upstream details go to the trace (and the log).
    @Test(arguments: [
        (FakeReply.malformed, 1, "could not read", "malformed answer"),
        (FakeReply.error(status: 401), 1, "refused the gateway's credentials", "HTTP 401"),
        (FakeReply.error(status: 404, message: "The model `m1` does not exist"), 1, "rejected the request (HTTP 404)", "The model `m1` does not exist"),
        (FakeReply.hang, 2, "did not answer in time", "timed out waiting 3s (first token)"),
    ])
    func providerFaultsAreExplainedAndTheSessionGoesOn(fault: FakeReply, times: Int, expected: String, detail: String) async throws {
        let fake = FakeProvider()
        fake.enqueue(contentsOf: Array(repeating: fault, count: times), model: "m1")
        try await Self.withGateway(fake: fake, firstTokenTimeout: "3s") { gateway, _ in
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("this one fails")
                let reply = try await chat.reply(to: id)
                #expect(reply["event"] as? String == "chat.error")
                let message = (reply["data"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(expected), "\(message)")
                #expect(message.contains("It is saved"))
                #expect(!message.contains("\n") && message.count < 200, "one short sentence: \(message)")
                await gateway.state.traces.flush()
                let hops = try await gateway.state.store.traceEvents(messageID: id)
                #expect(hops.contains { $0.hop == "model.end" && $0.detail.contains(detail) }, "the trace keeps the upstream detail")
                #expect(hops.contains { $0.hop == "turn.failed" })
                let next = try await chat.send("and this one works")
                #expect((try await chat.reply(to: next)["data"] as? [String: Any])?["text"] as? String == "echo: and this one works")
            }
            let session = try await gateway.state.store.session(key: "webchat:dm:owner", channel: "webchat", peer: "owner")
            let stored = try await gateway.state.store.messages(sessionID: session.id, limit: 10).map(\.content)
            #expect(stored.contains("this one fails"), "the failed message stays in the transcript")
        }
    }

    @Test func aStreamThatDiesMidwayIsRetractedInTheWebChatBeforeTheFallbackAnswers() async throws {
        let fake = FakeProvider()
        fake.enqueue(.streamError(afterChunks: 4), .streamError(afterChunks: 4), model: "m1")
        try await FakeProviderServer.withServer(fake) { server in
            let config = Self.config(server).replacingOccurrences(of: "models: [fake/m1]", with: "models: [fake/m1, backup/m2]")
            let gateway = try await TestGateway.start(config: config)
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("a reply long enough to be cut")
                let reply = try await chat.reply(to: id)
                let data = try #require(reply["data"] as? [String: Any])
                #expect(data["model"] as? String == "backup/m2")
                #expect(data["text"] as? String == "echo: a reply long enough to be cut")
                let events = chat.received.compactMap { $0["event"] as? String }
                #expect(events.contains("chat.retract"))
                // A client that applies deltas and retractions ends with exactly the final answer.
                var shown = "", attempt = 0
                for frame in chat.received {
                    guard let data = frame["data"] as? [String: Any], data["in_reply_to"] as? String == id else { continue }
                    switch frame["event"] as? String {
                    case "chat.delta":
                        let frameAttempt = data["attempt"] as? Int ?? 0
                        if frameAttempt != attempt { (shown, attempt) = ("", frameAttempt) }
                        shown += data["text"] as? String ?? ""
                    case "chat.retract": shown = ""
                    default: break
                    }
                }
                #expect(shown == "echo: a reply long enough to be cut")
            }
            try await gateway.stop()
        }
    }

    @Test func anIdleSessionStartsFresh() async throws {
        let fake = FakeProvider()
        try await FakeProviderServer.withServer(fake) { server in
            // Long enough that two replies in a row fit inside it on a loaded 2-core CI machine (1 s did not).
            let gateway = try await TestGateway.start(config: Self.config(server) + "\nsessions:\n  idle_reset: 4s\n")
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                _ = try await chat.reply(to: try await chat.send("remember the word pelican"))
                _ = try await chat.reply(to: try await chat.send("right away"))
                #expect(fake.lastRequest?.messages.contains { $0["content"]?.stringValue == "remember the word pelican" } == true)
                try await Task.sleep(for: .milliseconds(4300))
                _ = try await chat.reply(to: try await chat.send("after a pause"))
                let sent = fake.lastRequest?.messages ?? []
                #expect(!sent.contains { $0["content"]?.stringValue?.contains("pelican") == true }, "the idle reset dropped earlier turns")
                #expect(sent.last?["content"]?.stringValue == "after a pause")
            }
            try await gateway.stop()
        }
    }
}
