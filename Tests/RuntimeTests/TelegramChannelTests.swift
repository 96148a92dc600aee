import FakePlatforms
import FakeProviders
import Foundation
import GRDB
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

    /// What a chat shows: each message's latest text (edits applied), in order, without deleted messages.
    static func visible(_ telegram: FakeTelegram, chat: Int64) -> [String] {
        var texts: [Int: String] = [:]
        var order: [Int] = []
        for sent in telegram.sent where sent.chatID == chat {
            if sent.method == "deleteMessage" {
                texts[sent.messageID] = nil
                continue
            }
            if texts[sent.messageID] == nil { order.append(sent.messageID) }
            texts[sent.messageID] = sent.text
        }
        return order.compactMap { texts[$0] }
    }

    /// A value of the Telegram plugin's store, read from the database of a gateway running in another process.
    static func pluginValue(_ workspace: Workspace, _ key: String) throws -> String {
        var configuration = Configuration()
        configuration.readonly = true
        let database = try DatabaseQueue(path: workspace.path("data/swiftlet.sqlite").path, configuration: configuration)
        let sql = "SELECT value FROM plugin_kv WHERE plugin = 'telegram' AND key = ?"
        return try database.read { try String.fetchOne($0, sql: sql, arguments: [key]) } ?? ""
    }

    /// The gateway's log file, for what plugins logged.
    static func log(_ workspace: Workspace) -> String {
        (try? String(contentsOf: workspace.logsDirectory.appendingPathComponent("swiftlet.log"), encoding: .utf8)) ?? ""
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

    @Test("webhook: ids that are not exact 64-bit integers are refused with the reason and logged, never wrapped or zeroed")
    func strictIDsWebhook() async throws {
        try await Self.with(mode: "webhook") { setup in
            let secret = [("X-Telegram-Bot-Api-Secret-Token", "wh-secret-123")]
            func message(chat: String = "950", id: String = "5", from: String = "950") -> String {
                #"{"message_id": \#(id), "date": 0, "chat": {"id": \#(chat), "type": "private"}, "from": {"id": \#(from), "is_bot": false}, "#
                    + #""text": "hi"}"#
            }
            let refused: [(update: String, reason: String)] = [
                (#"{"update_id": 300, "message": \#(message(id: #""5""#))}"#, #"message.message_id is the string \"5\", not an integer"#),
                (#"{"update_id": 301, "message": \#(message(chat: "9223372036854775808"))}"#, "message.chat.id is 9223372036854775808, not an integer"),
                (#"{"update_id": 302, "message": \#(message(chat: "1e308"))}"#, "message.chat.id is 1e+308, not an integer"),
                (#"{"update_id": 303, "message": \#(message(from: "-9223372036854775809"))}"#, "message.from.id is -9223372036854775809, not an integer"),
                (#"{"update_id": 304, "message": \#(message(id: "true"))}"#, "message.message_id is true, not an integer"),
                (#"{"update_id": 305, "message": \#(message(id: "7.5"))}"#, "message.message_id is 7.5, not an integer"),
                (#"{"update_id": 9223372036854775808, "message": \#(message())}"#, "update_id is 9223372036854775808, not an integer"),
            ]
            for (update, reason) in refused {
                let reply = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: secret, body: update)
                #expect(reply.status == 400 && reply.body.contains(reason), "\(update): \(reply.status) \(reply.body)")
            }
            #expect(setup.provider.requestCount == 0, "no refused update reached the model")
            try await Self.eventually("the refusals logged") { Self.log(setup.workspace).contains("telegram update refused") }

            // Ids that fit are kept to the last digit, beyond what a double holds exactly (2^53 + 1).
            let big = "9007199254740993"
            let bigMessage = message(chat: big, id: "2147483653", from: big).replacingOccurrences(of: "\"hi\"", with: "\"big ids\"")
            let fits = #"{"update_id": 306, "message": \#(bigMessage)}"#
            let accepted = try await setup.gateway.request("/channels/telegram/webhook", method: .POST, headers: secret, body: fits)
            #expect(accepted.status == 200, "\(accepted.body)")
            try await Self.eventually("the answer to the big chat id") {
                Self.visible(setup.telegram, chat: 9_007_199_254_740_993) == ["echo: big ids"]
            }
            #expect(!setup.telegram.sent.contains { $0.chatID == .min || $0.chatID == 0 })
        }
    }

    @Test("polling: an update with an id beyond 64 bits is refused, logged and confirmed; the next one is answered")
    func strictIDsPolling() async throws {
        try await Self.with { setup in
            setup.telegram.queueRaw(
                #"{"update_id": 50, "message": {"message_id": 7, "date": 0, "chat": {"id": 9223372036854775808, "type": "private"}, "#
                    + #""from": {"id": 1, "is_bot": false}, "text": "wrapped"}}"#,
                updateID: 50)
            setup.telegram.queueMessage(chatID: 960, from: 960, text: "after it")
            try await Self.eventually("the refusal logged") { Self.log(setup.workspace).contains("message.chat.id is 9223372036854775808") }
            try await Self.eventually("the next message answered") { Self.visible(setup.telegram, chat: 960) == ["echo: after it"] }
            try await Self.eventually("both updates confirmed") { setup.telegram.pendingUpdates == 0 }
            #expect(setup.provider.requestCount == 1)
            #expect(!setup.telegram.sent.contains { $0.chatID != 960 })
        }
    }

    @Test("after a crash mid-answer, the draft the first run streamed is deleted and the chat shows one answer")
    func stalePreviewAfterCrash() async throws {
        let telegram = FakeTelegram()
        let provider = FakeProvider()
        // The first run streams half the answer (a preview goes out), then stalls until the process is killed.
        provider.enqueue(.hangAfterChunks(10))
        let text = "tell me a story about the sea and the mountains and the rivers and the sky"
        try await FakeProviderServer.withServer(provider) { server in
            try await FakePlatformServer.withServer(telegram.router) { platform in
                let workspace = try Self.workspace(server, platform: platform, telegram: telegram, mode: "polling", channel: "dm_policy: open")
                let first = try await CrashRecoveryTests.start(workspace)
                telegram.queueMessage(chatID: 970, from: 970, text: text)
                try await Self.eventually("the preview") { telegram.sent.contains { $0.chatID == 970 && $0.text.hasSuffix(" …") } }
                // The plugin notes the draft in its store once Telegram has answered with its id.
                try await Self.eventually("the preview noted") { try Self.pluginValue(workspace, "previews.open").hasPrefix("970:") }
                kill(first.process.processIdentifier, SIGKILL)
                try await offPool { first.process.waitUntilExit() }

                let second = try await CrashRecoveryTests.start(workspace)
                try await Self.eventually("the answer") { Self.visible(telegram, chat: 970).contains("echo: " + text) }
                try await Self.eventually("only the answer in the chat") { Self.visible(telegram, chat: 970) == ["echo: " + text] }
                #expect(telegram.calls.contains("deleteMessage"))
                second.process.terminate()
                try await offPool { second.process.waitUntilExit() }
            }
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
