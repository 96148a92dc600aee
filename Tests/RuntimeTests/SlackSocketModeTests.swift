import FakePlatforms
import FakeProviders
import Foundation
import NIOHTTP1
import PluginAPI
import Testing

@testable import Runtime

/// The `slack` plugin in Socket Mode (`config.mode: socket`): events over WebSocket connections to the fake Slack,
/// acknowledged by envelope id, connections replaced when Slack recycles them or drops them.
@Suite struct SlackSocketModeTests {
    /// A gateway running the slack plugin in Socket Mode against `slack`, its first connection open.
    static func withSocketMode(
        _ slack: FakeSlack, appToken: String? = nil, requireConnected: Bool = true, _ body: (TestGateway, FakeProvider, FakePlatformServer) async throws -> Void
    ) async throws {
        try await SlackChannelTests.withSlack(slack, appToken: appToken ?? slack.appToken, requireLoaded: requireConnected) { gateway, fake, server async throws in
            if requireConnected {
                try #require(try await ChannelPluginHarness.eventually { slack.openSockets.count == 1 }, "no Socket Mode connection was opened")
            }
            try await body(gateway, fake, server)
        }
    }

    static func direct(_ slack: FakeSlack, _ text: String, ts: String) -> [String: Any] {
        slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: text, ts: ts))
    }

    @Test("a direct message over Socket Mode is acknowledged by its envelope id and answered with chat.postMessage; the webhook is off")
    func directMessage() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { gateway, fake, _ async throws in
            let open = try #require(slack.calls("apps.connections.open").first)
            #expect(open.headers["authorization"] == "Bearer \(slack.appToken)")
            let envelope = try #require(slack.push(Self.direct(slack, "hi over the socket", ts: "1712000100.000100")))
            #expect(try await ChannelPluginHarness.eventually { slack.acknowledged == [envelope] })
            // A streamed preview may come first; the reply replaces it in place.
            #expect(try await ChannelPluginHarness.eventually { slack.messages.map(\.text) == ["echo: hi over the socket"] }, "\(slack.messages)")
            #expect(slack.messages.first?.channel == "D0ALICE")
            #expect(ChannelPluginHarness.lastUserText(fake) == "hi over the socket")
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").map(\.externalID) == ["D0ALICE:1712000100.000100"])
            // Slack sends nothing to a Request URL in Socket Mode; a POST there is not taken, signed or not.
            let body = FakeSlack.encode(Self.direct(slack, "by webhook", ts: "1712000100.000200"))
            let posted = try await gateway.request(
                SlackChannelTests.webhook, method: .POST, headers: slack.signedHeaders(for: body), body: String(decoding: body, as: UTF8.self))
            #expect(posted.status == 404)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").count == 1)
        }
    }

    @Test("an envelope Slack sends again (retry_attempt 1) is acknowledged again but answered once; ignored events are acknowledged too")
    func redeliveryAnsweredOnce() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { gateway, fake, _ async throws in
            let event = Self.direct(slack, "only once", ts: "1712000110.000100")
            let first = try #require(slack.push(event))
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            let again = try #require(slack.push(event, retryAttempt: 1))
            let bot = try #require(slack.push(slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0OTHER", text: "x", ts: "1.2", botID: "B0X"))))
            #expect(try await ChannelPluginHarness.eventually { Set(slack.acknowledged) == [first, again, bot] })
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").count == 1)
            #expect(fake.requestCount == 1)
            #expect(slack.calls("chat.postMessage").count == 1)
        }
    }

    @Test("on Slack's disconnect the next connection opens while the old one still delivers; both connections' events are answered")
    func refreshOverlaps() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { _, _, _ async throws in
            let old = try #require(slack.openSockets.first)
            #expect(slack.disconnect(reason: "refresh_requested", on: old))
            #expect(try await ChannelPluginHarness.eventually { slack.openSockets.count == 2 }, "the replacement is opened before Slack closes the old connection")
            #expect(slack.calls("apps.connections.open").count == 2)
            let new = try #require(slack.openSockets.last)
            try #require(slack.push(Self.direct(slack, "late on the old one", ts: "1712000120.000100"), on: old) != nil)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
            slack.drop(old)
            #expect(try await ChannelPluginHarness.eventually { slack.openSockets == [new] })
            try #require(slack.push(Self.direct(slack, "on the new one", ts: "1712000120.000200"), on: new) != nil)
            #expect(
                try await ChannelPluginHarness.eventually { slack.messages.map(\.text) == ["echo: late on the old one", "echo: on the new one"] },
                "\(slack.messages)")
            // The drained connection's end opens nothing more.
            try await Task.sleep(for: .milliseconds(300))
            #expect(slack.socketsOpened == 2)
        }
    }

    @Test("a connection Slack drops without warning is replaced, and events on the new one are answered")
    func droppedConnectionReconnects() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { _, _, _ async throws in
            let first = try #require(slack.openSockets.first)
            slack.drop(first)
            #expect(try await ChannelPluginHarness.eventually { slack.socketsOpened == 2 && slack.openSockets.count == 1 })
            try #require(slack.push(Self.direct(slack, "after the drop", ts: "1712000130.000100")) != nil)
            #expect(try await ChannelPluginHarness.eventually { slack.messages.count == 1 })
        }
    }

    @Test("messages of one conversation are journaled in the order Slack sent them, each answered once")
    func orderWithinConversation() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { gateway, _, _ async throws in
            let stamps = (1...6).map { "1712000150.00010\($0)" }
            for stamp in stamps { try #require(slack.push(Self.direct(slack, "message \(stamp)", ts: stamp)) != nil) }
            #expect(try await ChannelPluginHarness.eventually { slack.acknowledged.count == stamps.count })
            #expect(try ChannelPluginHarness.journal(gateway, channel: "slack").map(\.externalID) == stamps.map { "D0ALICE:\($0)" })
        }
    }

    @Test("link_disabled (Socket Mode turned off) closes the connection and opens no next one at once; an error is logged")
    func linkDisabled() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack) { gateway, _, _ async throws in
            #expect(slack.disconnect(reason: "link_disabled"))
            #expect(try await ChannelPluginHarness.eventually { slack.openSockets.isEmpty }, "the plugin closes the connection itself")
            // A renewal or a lost connection would be followed by a new one within a second.
            try await Task.sleep(for: .seconds(2))
            #expect(slack.socketsOpened == 1)
            #expect(slack.calls("apps.connections.open").count == 1)
            let log = gateway.workspace.logsDirectory.appendingPathComponent("swiftlet.log")
            #expect(try await ChannelPluginHarness.eventually { (try? String(contentsOf: log, encoding: .utf8))?.contains("Slack turned Socket Mode off") == true })
        }
    }

    @Test("the bot token where the app-level token belongs stops the channel at start, naming slack_app_token")
    func wrongKindOfToken() async throws {
        let slack = FakeSlack()
        try await Self.withSocketMode(slack, appToken: slack.token, requireConnected: false) { gateway, _, _ async throws in
            let status = try #require(ChannelPluginHarness.status(gateway, "slack"))
            #expect(status.state == .failed)
            let error = status.error ?? ""
            #expect(error.contains("not_allowed_token_type") && error.contains("slack_app_token"), "\(error)")
            #expect(slack.socketsOpened == 0)
        }
    }

    @Test("a message the gateway cannot take is not acknowledged, so Slack sends it again")
    func refusedMessageIsNotAcknowledged() async throws {
        let slack = FakeSlack()
        try await FakePlatformServer.withServer(slack.router) { server in
            let context = RecordingPluginContext(
                name: "slack", configuration: #"{"base_url": "https://slack.test/api", "bot_user_id": "U0SWIFTBOT", "mode": "socket"}"#,
                secrets: ["slack_bot_token": slack.token, "slack_app_token": slack.appToken], refusesInbound: true,
                webSocket: PluginWebSocketTests.client(allowing: "127.0.0.1:\(server.port)")
            ) { request in
                #expect(request.url == "https://slack.test/api/apps.connections.open")
                let url = slack.connectionURL(host: "127.0.0.1:\(server.port)")
                return RecordingPluginContext.json(#"{"ok": true, "url": "\#(url)"}"#)
            }
            let plugin = try ChannelPluginHarness.plugin("libSlack.so", name: "slack")
            try await plugin.start(context: context)
            defer { Task { await plugin.stop() } }
            try #require(try await ChannelPluginHarness.eventually { slack.openSockets.count == 1 })
            let refused = try #require(slack.push(Self.direct(slack, "cannot be taken", ts: "1712000140.000100")))
            // An event the plugin ignores is acknowledged without the gateway: proof the connection reads and answers.
            let ignored = try #require(slack.push(slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "", ts: "1.3", subtype: "message_changed"))))
            #expect(try await ChannelPluginHarness.eventually { slack.acknowledged.contains(ignored) })
            #expect(try await ChannelPluginHarness.eventually { context.logged.contains { $0.message.contains("could not be taken") } })
            // Frames on one connection arrive in order: once a later envelope's acknowledgement is in, an acknowledgement
            // sent for the refused one after its failure would be in too.
            let later = try #require(slack.push(slack.eventCallback(FakeSlack.message(channel: "D0ALICE", user: "U0ALICE", text: "", ts: "1.4", subtype: "message_changed"))))
            #expect(try await ChannelPluginHarness.eventually { slack.acknowledged.contains(later) })
            #expect(!slack.acknowledged.contains(refused))
            await plugin.stop()
            #expect(try await ChannelPluginHarness.eventually { slack.openSockets.isEmpty }, "stop closes the connection")
        }
    }
}
