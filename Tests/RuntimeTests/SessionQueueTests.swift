import FakeProviders
import Foundation
import Testing

@testable import Runtime

/// Messages that arrive while their session is busy (`sessions.queue`): every turn answers its own message and
/// never sees a later one; collect and steer answer waiting messages together, as configured.
@Suite struct SessionQueueTests {
    /// What a chat request asked: the roles and texts of its messages after the system prompt.
    static func conversation(_ request: FakeRequest) -> [String] {
        request.messages.compactMap { message in
            guard let role = message["role"]?.stringValue, role != "system" else { return nil }
            return "\(role): \(message["content"]?.stringValue ?? "")"
        }
    }

    /// What a webhook caller got back: the reply (when it came in time) and the message id.
    struct Answer: Sendable {
        var reply: String?
        var messageID: String?
    }

    /// Sends a burst of one sender: the first message, then, once its turn is running at the provider, the others
    /// one after the other, each once the one before is in the journal (so they arrive in order, while the first is
    /// still being answered: its scripted answer takes 4 s). Every post waits for its reply up to the hook's
    /// reply_timeout.
    static func burst(_ gateway: TestGateway, _ fake: FakeProvider, count: Int = 3) async throws -> [Answer] {
        fake.enqueue(.delay(.seconds(4), then: .text("echo: question 1")))
        let posts = Task {
            try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                for index in 1...count {
                    group.addTask {
                        let json = try await WebhookChannelTests.post(gateway, ["sender": "alice", "text": "question \(index)", "id": "q\(index)", "reply": "sync"]).json
                        return (index, Answer(reply: json["reply"] as? String, messageID: json["message_id"] as? String))
                    }
                    try await Self.waitUntil("question \(index) journaled") {
                        if index == 1 { return fake.requestCount >= 1 }
                        return try await gateway.state.store.journalEntry(channel: "alerts", externalID: "q\(index)") != nil
                    }
                }
                var replies: [(Int, Answer)] = []
                for try await reply in group { replies.append(reply) }
                return replies.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        return try await posts.value
    }

    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw WebChatProbe.Timeout(waitingFor: what, seen: []) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("followup (the default): a burst in one session is answered in order, each turn ending with its own message")
    func followupAnswersEachMessageWithItsOwnContext() async throws {
        let fake = FakeProvider()
        try await MessagePathTests.withGateway(fake: fake, extraConfig: Self.hookConfig("followup")) { gateway, fake in
            let replies = try await Self.burst(gateway, fake)
            #expect(replies.map(\.reply) == ["echo: question 1", "echo: question 2", "echo: question 3"])
            let chats = fake.requests.filter(\.isChat)
            #expect(chats.count == 3)
            #expect(chats.map { Self.conversation($0).last } == ["user: question 1", "user: question 2", "user: question 3"])
            // The second turn sees the first turn answered, and nothing that came later.
            #expect(Self.conversation(chats[1]) == ["user: question 1", "assistant: echo: question 1", "user: question 2"])
            #expect(Self.conversation(chats[2]) == [
                "user: question 1", "assistant: echo: question 1", "user: question 2", "assistant: echo: question 2", "user: question 3",
            ])
            // The transcript is the conversation in the order it was answered.
            let session = try await gateway.state.store.session(key: "alerts:dm:alice", channel: "alerts", peer: "alice")
            let stored = try await gateway.state.store.messages(sessionID: session.id, limit: 20).map(\.content)
            #expect(stored == ["question 1", "echo: question 1", "question 2", "echo: question 2", "question 3", "echo: question 3"])
        }
    }

    @Test("collect: the messages waiting when a turn ends are answered together by the next turn")
    func collectAnswersWaitingMessagesTogether() async throws {
        let fake = FakeProvider()
        try await MessagePathTests.withGateway(fake: fake, extraConfig: Self.hookConfig("collect")) { gateway, fake in
            let replies = try await Self.burst(gateway, fake)
            #expect(replies[0].reply == "echo: question 1")
            #expect(replies[1].reply == "echo: question 3", "question 2's turn answers question 3 too")
            #expect(replies[2].reply == "echo: question 3", "the caller waiting for question 3 gets the shared reply")
            let chats = fake.requests.filter(\.isChat)
            #expect(chats.count == 2)
            #expect(Self.conversation(chats[1]) == ["user: question 1", "assistant: echo: question 1", "user: question 2", "user: question 3"])
            // Question 3 shares question 2's reply: its own reply URL says so.
            let third = try #require(replies[2].messageID)
            let second = try #require(replies[1].messageID)
            let lookup = try await gateway.request("/hooks/alerts/replies/\(third)", headers: [("Authorization", "Bearer tok-abc")])
            #expect(lookup.json["answered_by"] as? String == second)
            #expect(lookup.json["reply"] as? String == "echo: question 3")
            let entry = try #require(await gateway.state.store.journalEntry(id: third))
            #expect(entry.status == .done && entry.answeredBy == second)
        }
    }

    @Test("steer: a message that arrives during a tool round joins the running turn before its next model call")
    func steerJoinsTheRunningTurn() async throws {
        let fake = FakeProvider()
        fake.enqueue(.delay(.milliseconds(400), then: .toolCalls([FakeToolCall(name: "current_time", argumentsJSON: "{}")])))
        try await MessagePathTests.withGateway(fake: fake, extraConfig: Self.hookConfig("steer")) { gateway, fake in
            let first = Task {
                let json = try await WebhookChannelTests.post(gateway, ["sender": "alice", "text": "what time is it?", "reply": "sync"]).json
                return Answer(reply: json["reply"] as? String, messageID: json["message_id"] as? String)
            }
            while fake.requestCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let second = try await WebhookChannelTests.post(gateway, ["sender": "alice", "text": "and the date?", "reply": "callback"])
            let answer = try await first.value
            #expect(answer.reply == "echo: and the date?")
            let chats = fake.requests.filter(\.isChat)
            #expect(chats.count == 2)
            let last = Self.conversation(chats[1])
            #expect(last.first == "user: what time is it?")
            #expect(last.last == "user: and the date?", "the steered message follows the tool result")
            #expect(last.contains { $0.hasPrefix("tool: ") })
            let secondID = try #require(second.json["message_id"] as? String)
            let entry = try #require(await gateway.state.store.journalEntry(id: secondID))
            #expect(entry.status == .done && entry.answeredBy == answer.messageID)
        }
    }

    static func hookConfig(_ mode: String) -> String {
        """
        channels:
          alerts:
            dm_policy: open
            hook:
              secret: \(WebhookChannelTests.secret)
              token: tok-abc
              reply_timeout: 10s
        limits:
          ip_per_minute: 0
        sessions:
          queue: \(mode)
        """
    }

    @Test("turnSize: commands run alone, ordinary messages are taken together up to the limit")
    func turnSize() {
        func entry(_ text: String) -> JournalEntry {
            JournalEntry(id: UUID().uuidString, channel: "c", sessionKey: "k", sessionID: "s", peer: "p", sender: "p", text: text, replyTarget: "t")
        }
        #expect(SessionLanes.turnSize([], limit: 5) == 0)
        #expect(SessionLanes.turnSize([entry("a"), entry("b"), entry("c")], limit: 1) == 1)
        #expect(SessionLanes.turnSize([entry("a"), entry("b"), entry("c")], limit: 2) == 2)
        #expect(SessionLanes.turnSize([entry("a"), entry("b"), entry("/new"), entry("c")], limit: 10) == 2)
        #expect(SessionLanes.turnSize([entry("/model"), entry("b")], limit: 10) == 1)
        #expect(SessionLanes.turnSize([entry("a"), entry("/shrug"), entry("c")], limit: 10) == 3, "an unknown /word is an ordinary message")
    }
}
