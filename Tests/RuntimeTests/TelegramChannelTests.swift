import FakePlatforms
import FakeProviders
import Foundation
import NIOHTTP1
import PluginAPI
import Testing

@testable import Runtime

/// The Telegram plugin (libTelegram.so) in a real gateway against a local Bot API that answers as Telegram does.
@Suite struct TelegramChannelTests {
    struct Setup {
        var gateway: TestGateway
        let telegram: FakeTelegram
        let provider: FakeProvider
        let workspace: Workspace
        let platform: FakePlatformServer
    }

    static func workspace(_ server: FakeProviderServer, platform: FakePlatformServer, telegram: FakeTelegram, mode: String, channel: String) throws -> Workspace {
        let workspace = try TestGateway.makeWorkspace(
            config: MessagePathTests.config(
                server,
                extra: """
                    channels:
                      telegram:
                    \(channel.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
                    limits:
                      ip_per_minute: 0
                    outbox:
                      retry_base: 50ms
                      max_attempts: 100
                    """))
        let tools = """
            {"version": 1, "plugins": [{"name": "telegram", "file": "libTelegram.so",
              "config": {"base_url": "\(platform.baseURL)", "mode": "\(mode)", "poll_timeout": 1, "webhook_url": "https://bot.example.com/channels/telegram/webhook"},
              "permissions": {"network": ["127.0.0.1:\(platform.port)"], "secrets": ["telegram_bot_token", "telegram_webhook_secret"],
                              "files": {"read": ["media"]}, "timeout_seconds": 30}}]}
            """
        try tools.write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
        try "SWIFTLET_SECRET_TELEGRAM_BOT_TOKEN=\(telegram.token)\nSWIFTLET_SECRET_TELEGRAM_WEBHOOK_SECRET=wh-secret-123\n"
            .write(to: workspace.dotenvFile, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: workspace.root.appendingPathComponent("media/outbound"), withIntermediateDirectories: true)
        return workspace
    }

    static func with(mode: String = "polling", channel: String = "dm_policy: open", _ body: @Sendable (inout Setup) async throws -> Void) async throws {
        let telegram = FakeTelegram()
        let provider = FakeProvider()
        try await FakeProviderServer.withServer(provider) { server in
            try await FakePlatformServer.withServer(telegram.router) { platform in
                let workspace = try Self.workspace(server, platform: platform, telegram: telegram, mode: mode, channel: channel)
                var setup = Setup(gateway: try await TestGateway.start(workspace: workspace), telegram: telegram, provider: provider, workspace: workspace, platform: platform)
                let status = setup.gateway.state.plugins.statuses.first
                #expect(status?.state == .loaded, "\(status?.error ?? "")")
                do {
                    try await body(&setup)
                } catch {
                    try? await setup.gateway.stop()
                    throw error
                }
                try await setup.gateway.stop()
            }
        }
    }

    /// Polls until `condition` holds, for up to 20 s.
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for \(what)")
        throw CancellationError()
    }

    /// What a chat shows: each message's latest text (edits applied), in order.
    static func visible(_ telegram: FakeTelegram, chat: Int64) -> [String] {
        var texts: [Int: String] = [:]
        var order: [Int] = []
        for sent in telegram.sent where sent.chatID == chat {
            if texts[sent.messageID] == nil { order.append(sent.messageID) }
            texts[sent.messageID] = sent.text
        }
        return order.compactMap { texts[$0] }
    }

    @Test("a direct message is polled, answered once in MarkdownV2, and its offset committed")
    func directMessage() async throws {
        try await Self.with { setup in
            setup.telegram.queueMessage(chatID: 501, from: 501, text: "hello **world** 1.5!")
            try await Self.eventually("the reply") { Self.visible(setup.telegram, chat: 501).count == 1 && setup.telegram.sent.last?.parseMode == "MarkdownV2" }
            #expect(Self.visible(setup.telegram, chat: 501) == [#"echo: hello *world* 1\.5\!"#])
            #expect(FakeTelegram.checkMarkdownV2(setup.telegram.sent.last!.text) == nil)
            #expect(setup.provider.lastRequest?.messages.last?["content"]?.stringValue == "hello **world** 1.5!")
            try await Self.eventually("the update confirmed") { setup.telegram.pendingUpdates == 0 }
            #expect(setup.telegram.calls.prefix(2) == ["getMe", "deleteWebhook"])
        }
    }

    @Test("markup Telegram rejects is sent again as plain text")
    func markupFallback() async throws {
        try await Self.with { setup in
            setup.telegram.fail("sendMessage", .api(code: 400, description: "Bad Request: can't parse entities: Can't find end of Italic entity at byte offset 7"))
            setup.telegram.queueMessage(chatID: 502, from: 502, text: "a_b")
            try await Self.eventually("the reply") { !Self.visible(setup.telegram, chat: 502).isEmpty }
            #expect(setup.telegram.sent.map(\.text) == ["echo: a_b"])
            #expect(setup.telegram.sent.first?.parseMode == nil)
            #expect(setup.telegram.calls.filter { $0 == "sendMessage" }.count == 2)
        }
    }

    @Test("a long answer (about 15,000 characters) is split into parts of at most 4096 characters that read as the whole")
    func chunking() async throws {
        let long = (1...1800).map { "word\($0)" }.joined(separator: " ")
        try await Self.with { setup in
            setup.telegram.queueMessage(chatID: 503, from: 503, text: long)
            do {
                try await Self.eventually("three parts") {
                    let shown = Self.visible(setup.telegram, chat: 503)
                    return shown.count >= 2 && shown.joined(separator: " ") == "echo: " + long
                }
            } catch {
                Issue.record("shown: \(Self.visible(setup.telegram, chat: 503).map { "\($0.count): \($0.prefix(30))...\($0.suffix(30))" }) calls: \(setup.telegram.calls)")
                throw error
            }
            #expect(setup.telegram.sent.allSatisfy { $0.text.utf16.count <= 4096 })
        }
    }

    @Test("a 429 is waited out as retry_after says and the reply arrives exactly once")
    func tooManyRequests() async throws {
        try await Self.with { setup in
            setup.telegram.fail("sendMessage", .tooManyRequests(retryAfter: 1))
            setup.telegram.queueMessage(chatID: 504, from: 504, text: "hi")
            try await Self.eventually("the reply") { Self.visible(setup.telegram, chat: 504) == ["echo: hi"] }
            try await Self.eventually("the delivery recorded") {
                try await setup.gateway.state.store.dueOutbox(now: Date().addingTimeInterval(3600), limit: 10).isEmpty
            }
            #expect(try await setup.gateway.state.store.pendingJournal(limit: 10).isEmpty)
            #expect(setup.telegram.calls.filter { $0 == "sendMessage" }.count == 2)
        }
    }

    @Test("during a platform outage replies wait in the outbox, survive a restart, and are all delivered once afterwards")
    func outage() async throws {
        try await Self.with { setup in
            setup.telegram.setOutage(true, methods: ["sendMessage", "editMessageText"])
            for chat in Int64(601)...605 { setup.telegram.queueMessage(chatID: chat, from: chat, text: "ping \(chat)") }
            try await Self.eventually("five turns answered by the model") { setup.provider.requestCount >= 5 }
            try await Self.eventually("five failed deliveries") {
                (try await setup.gateway.state.store.dueOutbox(now: Date().addingTimeInterval(3600), limit: 10)).filter { $0.attempts >= 1 }.count == 5
            }
            try await setup.gateway.stop()
            setup.gateway = try await TestGateway.start(workspace: setup.workspace)
            setup.telegram.setOutage(false)
            try await Self.eventually("every reply") { (601...605).allSatisfy { Self.visible(setup.telegram, chat: Int64($0)).count == 1 } }
            // Give a double delivery the chance to show.
            try await Task.sleep(for: .milliseconds(500))
            for chat in Int64(601)...605 { #expect(Self.visible(setup.telegram, chat: chat) == ["echo: ping \(chat)"]) }
            #expect(setup.provider.requestCount == 5, "no turn was run twice")
        }
    }

    @Test("a stranger gets a pairing code through Telegram and nothing else until the owner approves")
    func pairing() async throws {
        try await Self.with(channel: "dm_policy: pairing") { setup in
            setup.telegram.queueMessage(chatID: 701, from: 701, text: "hello")
            try await Self.eventually("the code") { !Self.visible(setup.telegram, chat: 701).isEmpty }
            let listing = try await setup.gateway.request("/admin/v1/pairing?channel=telegram", token: setup.gateway.controlToken)
            let code = try #require((listing.json["pairing"] as? [[String: Any]])?.first?["code"] as? String)
            #expect(Self.visible(setup.telegram, chat: 701).first?.contains(code) == true)
            #expect(setup.provider.requestCount == 0)
            #expect(try await setup.gateway.request("/admin/v1/pairing/approve?channel=telegram&code=\(code)", method: .POST, token: setup.gateway.controlToken).status == 200)
            setup.telegram.queueMessage(chatID: 701, from: 701, text: "now")
            try await Self.eventually("the answer") { Self.visible(setup.telegram, chat: 701).last == "echo: now" }
        }
    }

    @Test("in a group only a mention or a reply to the bot is answered, quoting the message")
    func groups() async throws {
        try await Self.with(channel: "dm_policy: pairing") { setup in
            setup.telegram.queueMessage(chatID: -100, from: 801, text: "just chatting", chatType: "supergroup", messageID: 11)
            setup.telegram.queueMessage(chatID: -100, from: 801, text: "@swiftlet_test_bot status?", chatType: "supergroup", messageID: 12)
            try await Self.eventually("the first answer") { Self.visible(setup.telegram, chat: -100).count == 1 }
            setup.telegram.queueMessage(chatID: -100, from: 802, text: "and you?", chatType: "supergroup", messageID: 13, replyToBot: true)
            try await Self.eventually("two answers") { Self.visible(setup.telegram, chat: -100).count == 2 }
            #expect(Self.visible(setup.telegram, chat: -100) == ["echo: @swiftlet\\_test\\_bot status?", "echo: and you?"])
            #expect(Set(setup.telegram.sent.compactMap(\.replyTo)) == [12, 13])
            #expect(setup.provider.requestCount == 2)
        }
    }

    @Test("webhook mode: setWebhook with a secret token; updates with the right secret are answered, others refused")
    func webhookMode() async throws {
        try await Self.with(mode: "webhook") { setup in
            #expect(setup.telegram.webhook == ("https://bot.example.com/channels/telegram/webhook", "wh-secret-123"))
            let update = String(decoding: setup.telegram.queueMessage(chatID: 901, from: 901, text: "via webhook", queue: false), as: UTF8.self)
            let missing = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, body: update)
            #expect(missing.status == 401)
            let wrong = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: [("X-Telegram-Bot-Api-Secret-Token", "nope")], body: update)
            #expect(wrong.status == 401)
            #expect(setup.provider.requestCount == 0)
            let right = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: [("X-Telegram-Bot-Api-Secret-Token", "wh-secret-123")], body: update)
            #expect(right.status == 200)
            try await Self.eventually("the reply") { Self.visible(setup.telegram, chat: 901) == ["echo: via webhook"] }
            let again = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: [("X-Telegram-Bot-Api-Secret-Token", "wh-secret-123")], body: update)
            #expect(again.status == 200)
            #expect(setup.provider.requestCount == 1, "a redelivered update is not answered twice")
            #expect(!setup.telegram.calls.contains("getUpdates"))
            let garbage = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: [("X-Telegram-Bot-Api-Secret-Token", "wh-secret-123")], body: "[1,2")
            #expect(garbage.status == 400)
        }
    }

    @Test("files: an inbound photo is downloaded into the workspace and shown to the model; a MEDIA line sends a file back")
    func media() async throws {
        try await Self.with { setup in
            let jpeg = Data((0..<5000).map { UInt8($0 % 251) })
            let photo = setup.telegram.addFile(jpeg, path: "photos/file_7.jpg")
            try Data("report".utf8).write(to: setup.workspace.root.appendingPathComponent("media/outbound/report.pdf"))
            setup.telegram.queueMessage(chatID: 1001, from: 1001, caption: "what is this?\nMEDIA: media/outbound/report.pdf", photoFileID: photo)
            try await Self.eventually("the file sent back") { setup.telegram.sent.contains { $0.method == "sendDocument" } }
            let prompt = setup.provider.lastRequest?.messages.last?["content"]?.stringValue ?? ""
            #expect(prompt.contains("[attachment image: media/inbound/telegram/"))
            let path = try #require(prompt.components(separatedBy: "[attachment image: ").last?.components(separatedBy: " (").first)
            #expect(try Data(contentsOf: setup.workspace.root.appendingPathComponent(path)) == jpeg)
            let document = try #require(setup.telegram.sent.first { $0.method == "sendDocument" })
            #expect(document.fileName == "report.pdf" && document.fileBytes == 6)
            #expect(Self.visible(setup.telegram, chat: 1001).first?.hasPrefix("echo: what is this?") == true)
        }
    }

    @Test("a user who blocked the bot: the reply fails for good at once instead of retrying")
    func blocked() async throws {
        try await Self.with { setup in
            setup.telegram.queueMessage(chatID: 666, from: 666, text: "bye")
            try await Self.eventually("the failed delivery") {
                guard let message = try await setup.gateway.state.store.messages(sessionID: (try await setup.gateway.state.store.session(key: "telegram:dm:666", channel: "telegram", peer: "666")).id, limit: 5).first else { return false }
                guard let entry = try await setup.gateway.state.store.outboxEntry(id: "\(message.messageID):reply") else { return false }
                return entry.status == .failed && entry.attempts == 1 && (entry.lastError ?? "").contains("blocked")
            }
        }
    }
}
