import FakePlatforms
import FakeProviders
import Foundation
import NIOHTTP1
import PluginAPI
import Testing

@testable import Runtime

/// The `slack` channel plugin (libSlack.so): called directly for its pure parts (mrkdwn, error mapping, event
/// reading), and through a real gateway against the fake Slack for everything end to end.
@Suite struct SlackChannelTests {
    static let webhook = "/channels/slack/webhook"

    /// A gateway running the slack plugin against `slack`; `channel` is the YAML under `channels.slack`. With
    /// `appToken` the plugin runs in Socket Mode with that app-level token instead of the signing secret.
    static func withSlack(
        _ slack: FakeSlack, channel: String = "    dm_policy: open", token: String? = nil, appToken: String? = nil, files: [String: Data] = [:],
        requireLoaded: Bool = true, _ body: (TestGateway, FakeProvider, FakePlatformServer) async throws -> Void
    ) async throws {
        let (mode, secondSecret) = appToken.map { (#", "mode": "socket""#, ("slack_app_token", $0)) } ?? ("", ("slack_signing_secret", slack.signingSecret))
        try await ChannelPluginHarness.run(
            platform: slack.router,
            setup: { server in
                ChannelPluginHarness.Setup(
                    entry: """
                        {"name": "slack", "file": "libSlack.so", "config": {"base_url": "\(server.baseURL)/api"\(mode)},
                         "permissions": {"network": ["127.0.0.1:\(server.port)"], "secrets": ["slack_bot_token", "\(secondSecret.0)"],
                                         "files": {"read": ["media"]}, "timeout_seconds": 30}}
                        """,
                    secrets: ["slack_bot_token": token ?? slack.token, secondSecret.0: secondSecret.1],
                    config: """
                        channels:
                          slack:
                        \(channel)
                        limits:
                          ip_per_minute: 0
                        outbox:
                          retry_base: 50ms
                        """, files: files)
            }
        ) { gateway, fake, server async throws in
            if requireLoaded {
                let status = try #require(ChannelPluginHarness.status(gateway, "slack"))
                try #require(status.state == .loaded, "libSlack.so did not load: \(status.error ?? "?")")
            }
            try await body(gateway, fake, server)
        }
    }

    /// POSTs an Events API request signed as Slack signs it.
    static func post(
        _ gateway: TestGateway, _ slack: FakeSlack, _ object: [String: Any], timestamp: Date = Date(), extraHeaders: [(String, String)] = []
    ) async throws -> TestGateway.Reply {
        let body = FakeSlack.encode(object)
        return try await gateway.request(
            webhook, method: .POST, headers: slack.signedHeaders(for: body, timestamp: timestamp) + extraHeaders, body: String(decoding: body, as: UTF8.self))
    }

    // MARK: Pure parts, through the plugin's own entry points

    static let unitConfig = #"{"base_url": "https://slack.test/api", "bot_user_id": "U0SWIFTBOT"}"#
    static let unitSecrets = ["slack_bot_token": "xoxb-unit", "slack_signing_secret": "unit-signing-secret"]

    static func unitContext(_ answer: @escaping @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse = { _ in
        RecordingPluginContext.json(#"{"ok":true,"channel":"D0TEST","ts":"1700000000.000001"}"#)
    }) -> RecordingPluginContext {
        RecordingPluginContext(name: "slack", configuration: unitConfig, secrets: unitSecrets, http: answer)
    }

    @Test(
        "Markdown is converted to mrkdwn: bold, italic, strike, links, escapes, code kept, headings, bullets, quotes, mentions",
        arguments: [
            ("**bold** and *it* and __b2__ and ~~gone~~", "*bold* and _it_ and *b2* and ~gone~"),
            ("see [the docs](https://x.dev/a?b=1&c=2) or <https://x.dev>", "see <https://x.dev/a?b=1&amp;c=2|the docs> or <https://x.dev>"),
            ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
            ("`x <y> **z**` stays", "`x &lt;y&gt; **z**` stays"),
            ("```swift\nlet a = b < c && **d**\n```", "```\nlet a = b &lt; c &amp;&amp; **d**\n```"),
            ("# Title\n## **Sub** ##", "*Title*\n*Sub*"),
            ("- one\n* two\n  + three", "• one\n• two\n  • three"),
            ("> quoted *words*", "> quoted _words_"),
            ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
            ("ping <@U0123ABC> in <#C0123|general>, not <!channel> or <!here>", "ping <@U0123ABC> in <#C0123|general>, not &lt;!channel&gt; or &lt;!here&gt;"),
            ("[relative](docs/a.md) and _under_", "[relative](docs/a.md) and _under_"),
            ("***\nplain", "───\nplain"),
        ])
    func mrkdwn(markdown: String, expected: String) async throws {
        let plugin = try ChannelPluginHarness.plugin("libSlack.so", name: "slack")
        let context = Self.unitContext()
        _ = try await plugin.send(OutboundMessage(target: "D0TEST", text: markdown, idempotencyKey: "k1"), context: context)
        let request = try #require(context.requests.first)
        #expect(request.url == "https://slack.test/api/chat.postMessage")
        #expect(request.json["text"] as? String == expected)
    }

    @Test("send failures: Slack's error codes are final, 429 waits for Retry-After, 5xx and transport errors are retried")
    func sendFailures() async throws {
        struct Unreachable: Error {}
        let plugin = try ChannelPluginHarness.plugin("libSlack.so", name: "slack")
        let cases: [(answer: @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse, retryable: Bool, wait: Double?, says: String)] = [
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"channel_not_found"}"#) }, false, nil, "channel_not_found"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"not_in_channel"}"#) }, false, nil, "invite the bot"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"is_archived"}"#) }, false, nil, "is_archived"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"invalid_auth"}"#) }, false, nil, "slack_bot_token"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"msg_too_long"}"#) }, false, nil, "msg_too_long"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"internal_error"}"#) }, true, nil, "internal_error"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"ratelimited"}"#, status: 429, headers: [("Retry-After", "7")]) }, true, 7, "HTTP 429"),
            ({ _ in RecordingPluginContext.json(#"{"ok":false,"error":"ratelimited"}"#, status: 429) }, true, 30, "HTTP 429"),
            ({ _ in PluginHTTPResponse(status: 503, headers: [], body: Data("upstream error".utf8)) }, true, nil, "HTTP 503"),
            ({ _ in PluginHTTPResponse(status: 404, headers: [], body: Data()) }, false, nil, "HTTP 404"),
            ({ _ in throw Unreachable() }, true, nil, "could not be reached"),
        ]
        for (answer, retryable, wait, says) in cases {
            let context = Self.unitContext(answer)
            do {
                _ = try await plugin.send(OutboundMessage(target: "C0TEST:1.000001", text: "hi", idempotencyKey: "k"), context: context)
                Issue.record("the send succeeded; expected a failure saying \(says)")
            } catch let failure as ChannelSendFailure {
                #expect(failure.retryable == retryable, "\(failure.message)")
                #expect(failure.retryAfterSeconds == wait, "\(failure.message)")
                #expect(failure.message.contains(says), "\(failure.message)")
            }
            #expect(context.requests.first?.json["thread_ts"] as? String == "1.000001")
        }
    }

    @Test("previews: posted once, then edited in place; the final reply replaces the preview with chat.update")
    func previewsEditInPlace() async throws {
        let plugin = try ChannelPluginHarness.plugin("libSlack.so", name: "slack")
        #expect(plugin.capabilities == ChannelCapabilities(textLimit: 4000, markup: .mrkdwn, editInPlace: true, media: true, threads: true, groups: true))
        let context = Self.unitContext()
        let first = try await plugin.preview("The answer **so far", target: "C0TEST:1.000001", previous: nil, context: context)
        #expect(first.externalID == "1700000000.000001")
        let second = try await plugin.preview("The answer **so far** is", target: "C0TEST:1.000001", previous: first, context: context)
        #expect(second == first)
        _ = try await plugin.send(
            OutboundMessage(target: "C0TEST:1.000001", text: "The answer **so far** is 42", idempotencyKey: "k", previewID: first.externalID), context: context)
        let calls = context.requests.map { ($0.url.replacingOccurrences(of: "https://slack.test/api/", with: ""), $0.json) }
        #expect(calls.map(\.0) == ["chat.postMessage", "chat.update", "chat.update"])
        #expect(calls[0].1 as NSDictionary == ["channel": "C0TEST", "thread_ts": "1.000001", "text": "The answer **so far…"] as NSDictionary)
        #expect(calls[1].1 as NSDictionary == ["channel": "C0TEST", "ts": "1700000000.000001", "text": "The answer *so far* is…"] as NSDictionary)
        #expect(calls[2].1 as NSDictionary == ["channel": "C0TEST", "ts": "1700000000.000001", "text": "The answer *so far* is 42"] as NSDictionary)
    }

    @Test("events are read into messages: DM, channel with and without mention, thread, files; bots, edits and bad requests are not")
    func eventReading() async throws {
        let plugin = try ChannelPluginHarness.plugin("libSlack.so", name: "slack")
        let signer = FakeSlack(signingSecret: Self.unitSecrets["slack_signing_secret"]!)
        func deliver(_ event: [String: Any], context: RecordingPluginContext = Self.unitContext()) async -> (Int, [PluginAPI.InboundMessage]) {
            let body = FakeSlack.encode(signer.eventCallback(event))
            let answer = await plugin.webhook(
                ChannelWebhookRequest(method: "POST", headers: signer.signedHeaders(for: body).map { ($0.0, $0.1) }, body: body), context: context)
            return (answer.status, context.received)
        }
        let (_, dm) = await deliver(FakeSlack.message(channel: "D0A", user: "U0A", text: "  hi &lt;there&gt; &amp; more ", ts: "10.1"))
        #expect(dm == [InboundMessage(externalID: "D0A:10.1", peer: "U0A", isGroup: false, sender: "U0A", text: "hi <there> & more", replyTarget: "D0A")])
        let (_, chatter) = await deliver(FakeSlack.message(channel: "C0A", user: "U0B", text: "lunch?", ts: "11.1", channelType: "channel"))
        #expect(
            chatter == [InboundMessage(externalID: "C0A:11.1", peer: "C0A", isGroup: true, sender: "U0B", thread: "11.1", text: "lunch?", mentioned: false, replyTarget: "C0A:11.1")])
        let (_, mention) = await deliver(
            FakeSlack.message(channel: "G0A", user: "U0B", text: "<@U0SWIFTBOT|swiftlet> help", ts: "12.1", channelType: "group", threadTS: "9.1"))
        #expect(
            mention == [InboundMessage(externalID: "G0A:12.1", peer: "G0A", isGroup: true, sender: "U0B", thread: "9.1", text: "help", mentioned: true, replyTarget: "G0A:9.1")])
        let (_, appMention) = await deliver(FakeSlack.appMention(channel: "C0A", user: "U0B", text: "<@U0SWIFTBOT> status", ts: "13.1"))
        #expect(appMention.first?.mentioned == true && appMention.first?.externalID == "C0A:13.1" && appMention.first?.text == "status")
        let file: [String: Any] = [
            "id": "F1", "name": "notes.pdf", "mimetype": "application/pdf", "size": 1234, "url_private": "https://files.slack.com/files-pri/T-F1/notes.pdf",
            "url_private_download": "https://files.slack.com/files-pri/T-F1/download/notes.pdf",
        ]
        let (_, shared) = await deliver(FakeSlack.message(channel: "D0A", user: "U0A", text: "", ts: "14.1", subtype: "file_share", files: [file]))
        #expect(
            shared.first?.attachments == [
                InboundAttachment(
                    kind: .document, fileName: "notes.pdf", mimeType: "application/pdf", declaredSize: 1234, url: "https://files.slack.com/files-pri/T-F1/download/notes.pdf",
                    headers: ["Authorization": "Bearer xoxb-unit"])
            ])
        for ignored in [
            FakeSlack.message(channel: "D0A", user: "U0SWIFTBOT", text: "my own", ts: "15.1"),
            FakeSlack.message(channel: "D0A", user: "U0A", text: "edited", ts: "15.2", subtype: "message_changed"),
            FakeSlack.message(channel: "D0A", user: "U0C", text: "from a bot", ts: "15.3", botID: "B0OTHER"),
            FakeSlack.message(channel: "C0A", user: "U0B", text: "<@U0SWIFTBOT>", ts: "15.4", channelType: "channel"),
            ["type": "reaction_added", "user": "U0A", "reaction": "thumbsup"],
        ] {
            let (status, received) = await deliver(ignored)
            #expect(status == 200 && received.isEmpty, "\(ignored)")
        }
        let (refusedStatus, _) = await deliver(
            FakeSlack.message(channel: "D0A", user: "U0A", text: "hi", ts: "16.1"),
            context: RecordingPluginContext(name: "slack", configuration: Self.unitConfig, secrets: Self.unitSecrets, refusesInbound: true) { _ in
                RecordingPluginContext.json("{}")
            })
        #expect(refusedStatus == 500, "a message the gateway cannot take is answered 5xx, so Slack redelivers it")
        let junk = Data("not json".utf8)
        let junkAnswer = await plugin.webhook(
            ChannelWebhookRequest(method: "POST", headers: signer.signedHeaders(for: junk).map { ($0.0, $0.1) }, body: junk), context: Self.unitContext())
        #expect(junkAnswer.status == 400)
        #expect(await plugin.webhook(ChannelWebhookRequest(method: "GET"), context: Self.unitContext()).status == 405)
    }

    // MARK: End to end, through a gateway and the fake Slack

    @Test("a direct message is answered with chat.postMessage: exactly this request, with the bot token")
    func directMessage() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, fake, _ async throws in
            let auth = try #require(slack.calls("auth.test").first, "the bot's user id is learned at start")
            #expect(auth.headers["authorization"] == "Bearer \(slack.token)")
            let reply = try await Self.post(
                gateway, slack, slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "hi &amp; bye", ts: "1712000000.000100")))
            #expect(reply.status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            #expect(ChannelPluginHarness.lastUserText(fake) == "hi & bye")
            let post = try #require(slack.calls("chat.postMessage").first)
            #expect(post.headers["authorization"] == "Bearer \(slack.token)")
            #expect(post.headers["content-type"] == "application/json; charset=utf-8")
            #expect(String(decoding: post.body, as: UTF8.self) == #"{"channel":"D0ALICE","text":"echo: hi &amp; bye"}"#)
            #expect(slack.calls("chat.postMessage").count == 1)
            let journal = try ChannelPluginHarness.journal(gateway, channel: "slack")
            #expect(journal.map(\.externalID) == ["D0ALICE:1712000000.000100"])
            #expect(journal.first?.sender == "U0ALICE" && journal.first?.replyTarget == "D0ALICE")
        }
    }

    @Test("signatures: wrong secret, stale or future timestamp, missing headers, another body and another version are refused with 401; nothing reaches the model")
    func signatures() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, fake, _ async throws in
            let body = FakeSlack.encode(slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "let me in", ts: "1712000000.000200")))
            let text = String(decoding: body, as: UTF8.self)
            func send(_ headers: [(String, String)], body: String = text) async throws -> TestGateway.Reply {
                try await gateway.request(Self.webhook, method: .POST, headers: headers, body: body)
            }
            let signed = slack.signedHeaders(for: body)
            let stale = try await send(slack.signedHeaders(for: body, timestamp: Date().addingTimeInterval(-400)))
            #expect(stale.status == 401)
            #expect(stale.json["error"] as? String == "timestamp outside the five-minute window")
            #expect(try await send(slack.signedHeaders(for: body, timestamp: Date().addingTimeInterval(400))).status == 401)
            let forged = try await send(slack.signedHeaders(for: body, secret: "not-the-secret"))
            #expect(forged.status == 401)
            #expect(forged.json["error"] as? String == "signature does not match")
            let missing = try await send([("Content-Type", "application/json")])
            #expect(missing.status == 401)
            #expect(missing.json["error"] as? String == "signature headers missing")
            #expect(try await send(signed.filter { $0.0 != "X-Slack-Request-Timestamp" }).status == 401)
            #expect(try await send(signed, body: text.replacingOccurrences(of: "let me in", with: "let me in!")).status == 401)
            #expect(try await send(signed.map { $0.0 == "X-Slack-Signature" ? ($0.0, "v1=" + $0.1.dropFirst(3)) : $0 }).status == 401)
            #expect(fake.requestCount == 0)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").isEmpty)
            #expect(slack.calls("chat.postMessage").isEmpty)

            #expect(try await send(signed).status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            #expect(slack.messages.first?.text == "echo: let me in")
        }
    }

    @Test("url_verification is answered with the challenge, and only when signed")
    func urlVerification() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, fake, _ async throws in
            let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
            let answered = try await Self.post(gateway, slack, FakeSlack.urlVerification(challenge: challenge))
            #expect(answered.status == 200)
            #expect(answered.json as NSDictionary == ["challenge": challenge] as NSDictionary)
            let unsigned = try await gateway.request(
                Self.webhook, method: .POST, headers: [("Content-Type", "application/json")],
                body: String(decoding: FakeSlack.encode(FakeSlack.urlVerification(challenge: challenge)), as: UTF8.self))
            #expect(unsigned.status == 401)
            #expect(!unsigned.body.contains(challenge))
            #expect(fake.requestCount == 0)
        }
    }

    @Test("in a channel only a mention is answered, in the message's thread; Slack's message + app_mention pair for one post is answered once")
    func mentionGating() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, fake, _ async throws in
            let chatter = try await Self.post(
                gateway, slack, slack.eventCallback(FakeSlack.message(channel: "C0GENERAL", user: "U0BOB", text: "lunch anyone?", ts: "1712000001.000100", channelType: "channel")))
            #expect(chatter.status == 200)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").isEmpty, "a channel message without a mention is not taken")

            let mention = "<@\(slack.botUserID)> status?"
            let asMessage = try await Self.post(
                gateway, slack, slack.eventCallback(FakeSlack.message(channel: "C0GENERAL", user: "U0BOB", text: mention, ts: "1712000002.000100", channelType: "channel")))
            let asMention = try await Self.post(gateway, slack, slack.eventCallback(FakeSlack.appMention(channel: "C0GENERAL", user: "U0BOB", text: mention, ts: "1712000002.000100")))
            #expect(asMessage.status == 200 && asMention.status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            let first = try #require(slack.calls("chat.postMessage").first)
            #expect(String(decoding: first.body, as: UTF8.self) == #"{"channel":"C0GENERAL","text":"echo: status?","thread_ts":"1712000002.000100"}"#)

            // A mention inside that thread is answered in the thread (and continues its session).
            let inThread = try await Self.post(
                gateway, slack,
                slack.eventCallback(
                    FakeSlack.appMention(channel: "C0GENERAL", user: "U0CAROL", text: "<@\(slack.botUserID)> and you?", ts: "1712000003.000100", threadTS: "1712000002.000100")))
            #expect(inThread.status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 2 })
            #expect(slack.messages[1].threadTS == "1712000002.000100" && slack.messages[1].text == "echo: and you?")

            // The bot's own messages, other bots and edits are never taken.
            for event in [
                FakeSlack.message(channel: "C0GENERAL", user: slack.botUserID, text: mention, ts: "1712000004.000100", channelType: "channel"),
                FakeSlack.message(channel: "C0GENERAL", user: "U0DAVE", text: mention, ts: "1712000004.000200", channelType: "channel", botID: "B0OTHER"),
                FakeSlack.message(channel: "C0GENERAL", user: "U0BOB", text: mention, ts: "1712000004.000300", channelType: "channel", subtype: "message_changed"),
            ] {
                #expect(try await Self.post(gateway, slack, slack.eventCallback(event)).status == 200)
            }
            let journal = try ChannelPluginHarness.journal(gateway, channel: "slack")
            #expect(journal.map(\.externalID) == ["C0GENERAL:1712000002.000100", "C0GENERAL:1712000003.000100"])
            #expect(fake.requestCount == 2)
            #expect(slack.calls("chat.postMessage").count == 2)
        }
    }

    @Test("a long reply is split at 4000 characters; the first part replaces the streamed preview in place")
    func longReplyIsChunked() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, _, _ async throws in
            let words = (1...1500).map { "word\($0)" }.joined(separator: " ")
            let expected = ChannelText.chunks("echo: " + words, limit: 4000)
            #expect(expected.count == 4 && expected.allSatisfy { $0.utf16.count <= 4000 })
            #expect(try await Self.post(gateway, slack, slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: words, ts: "1712000010.000100")))
                .status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == expected.count })
            #expect(slack.messages.map(\.text) == expected)
            #expect(slack.messages.allSatisfy { $0.channel == "D0ALICE" && $0.threadTS == nil })
            let update = try #require(slack.calls("chat.update").last?.json)
            #expect(update as NSDictionary == ["channel": "D0ALICE", "ts": slack.messages[0].ts, "text": expected[0]] as NSDictionary)
            #expect(slack.messages[0].edits >= 1)
        }
    }

    @Test("a 429 is retried after its Retry-After; the reply arrives exactly once and the outbox counts two attempts")
    func rateLimitIsRetried() async throws {
        let slack = FakeSlack()
        slack.fail("chat.postMessage", with: .rateLimited(retryAfter: 1))
        try await Self.withSlack(slack) { gateway, _, _ async throws in
            #expect(try await Self.post(gateway, slack, slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "ping", ts: "1712000020.000100")))
                .status == 200)
            #expect(try await ChannelPluginHarness.eventually { try ChannelPluginHarness.outbox(gateway, channel: "slack").first?.status == "sent" })
            let posts = slack.calls("chat.postMessage")
            #expect(posts.count == 2)
            if posts.count == 2 { #expect(posts[1].receivedAt.timeIntervalSince(posts[0].receivedAt) >= 0.9, "the retry waited for Retry-After") }
            #expect(slack.messages.map(\.text) == ["echo: ping"])
            let entry = try #require(try ChannelPluginHarness.outbox(gateway, channel: "slack").first)
            #expect(entry.attempts == 2)
        }
    }

    @Test("Slack's redelivery of an event (X-Slack-Retry-Num) is answered 200 and not answered again")
    func redeliveryIsAnsweredOnce() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack) { gateway, fake, _ async throws in
            let event = slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "only once", ts: "1712000030.000100"))
            #expect(try await Self.post(gateway, slack, event).status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            let again = try await Self.post(gateway, slack, event, extraHeaders: [("X-Slack-Retry-Num", "1"), ("X-Slack-Retry-Reason", "http_timeout")])
            #expect(again.status == 200)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").count == 1)
            #expect(try ChannelPluginHarness.outbox(gateway, channel: "slack").count == 1)
            #expect(fake.requestCount == 1)
            #expect(slack.calls("chat.postMessage").count == 1)
        }
    }

    @Test("a shared file is downloaded with the bot token into media/inbound/slack and described to the model")
    func inboundFile() async throws {
        let slack = FakeSlack()
        let bytes = Data((0..<3000).map { UInt8($0 % 251) })
        try await Self.withSlack(slack) { gateway, fake, server async throws in
            let file = slack.hostFile(name: "photo.png", bytes: bytes, mimeType: "image/png", baseURL: server.baseURL)
            let event = FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "what is this?", ts: "1712000040.000100", subtype: "file_share", files: [file])
            #expect(try await Self.post(gateway, slack, slack.eventCallback(event)).status == 200)
            #expect(try await ChannelPluginHarness.eventually { fake.requestCount == 1 })
            let download = try #require(slack.calls.first { $0.path.hasPrefix("/files-pri/") })
            #expect(download.headers["authorization"] == "Bearer \(slack.token)")
            let folder = gateway.workspace.path("media/inbound/slack")
            let saved = try #require(FileManager.default.subpaths(atPath: folder.path)?.first { $0.hasSuffix("-photo.png") })
            #expect(try Data(contentsOf: folder.appendingPathComponent(saved)) == bytes)
            #expect(ChannelPluginHarness.lastUserText(fake) == "what is this?\n[attachment image 'photo.png': media/inbound/slack/\(saved) (image/png, 3 KB)]")
            // Slack's redelivery is recognised before anything is downloaded again.
            let again = try await Self.post(gateway, slack, slack.eventCallback(event), extraHeaders: [("X-Slack-Retry-Num", "1"), ("X-Slack-Retry-Reason", "http_timeout")])
            #expect(again.status == 200)
            #expect(slack.calls.filter { $0.path.hasPrefix("/files-pri/") }.count == 1)
            #expect(FileManager.default.subpaths(atPath: folder.path)?.filter { $0.hasSuffix("-photo.png") }.count == 1)
        }
    }

    @Test("a reply's MEDIA file goes out through files.getUploadURLExternal, the upload URL and files.completeUploadExternal")
    func outboundFile() async throws {
        let slack = FakeSlack()
        let pdf = Data("%PDF-1.4 fake report".utf8)
        try await Self.withSlack(slack, files: ["media/out/report.pdf": pdf]) { gateway, _, _ async throws in
            let event = FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "report\nMEDIA: media/out/report.pdf", ts: "1712000050.000100")
            #expect(try await Self.post(gateway, slack, slack.eventCallback(event)).status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.sharedFiles.count == 1 })
            #expect(slack.messages.map(\.text) == ["echo: report"])
            let ticket = try #require(slack.calls("files.getUploadURLExternal").first)
            #expect(ticket.form == ["filename": "report.pdf", "length": String(pdf.count)])
            let shared = try #require(slack.sharedFiles.first)
            #expect(shared.bytes == pdf && shared.fileName == "report.pdf" && shared.channel == "D0ALICE" && shared.threadTS == nil)
            let complete = try #require(slack.calls("files.completeUploadExternal").first)
            #expect(complete.form == ["files": #"[{"id":"\#(shared.id)","title":"report.pdf"}]"#, "channel_id": "D0ALICE"])
            #expect(try await ChannelPluginHarness.eventually { try ChannelPluginHarness.outbox(gateway, channel: "slack").first?.status == "sent" })
        }
    }

    @Test("a stranger (default dm_policy pairing) gets the pairing code through chat.postMessage and never reaches the model")
    func pairingCode() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack, channel: "    dm_policy: pairing") { gateway, fake, _ async throws in
            #expect(try await Self.post(gateway, slack, slack.eventCallback(FakeSlack.message(channel: "D0STRANGER", user: "U0STRANGER", text: "hello?", ts: "1712000060.000100")))
                .status == 200)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            let listing = try await gateway.request("/admin/v1/pairing?channel=slack", token: gateway.controlToken)
            let pending = try #require((listing.json["pairing"] as? [[String: Any]])?.first { $0["sender"] as? String == "U0STRANGER" })
            let code = try #require(pending["code"] as? String)
            #expect(slack.messages[0].channel == "D0STRANGER")
            #expect(slack.messages[0].text.contains(code))
            #expect(fake.requestCount == 0)
        }
    }

    @Test("a token Slack refuses stops the channel at start, saying auth.test failed with invalid_auth")
    func startFailsOnBadToken() async throws {
        let slack = FakeSlack()
        try await Self.withSlack(slack, token: "xoxb-revoked", requireLoaded: false) { gateway, _, _ async throws in
            let status = try #require(ChannelPluginHarness.status(gateway, "slack"))
            #expect(status.state == .failed)
            #expect(status.error?.contains("auth.test failed") == true && status.error?.contains("invalid_auth") == true, "\(status.error ?? "")")
            #expect(try await gateway.request(Self.webhook, method: .POST, body: "{}").status == 404)
        }
    }
}
