import FakePlatforms
import Foundation
import Hummingbird
import Logging
import PluginAPI
import Testing

@testable import Runtime

/// ``PluginWebSocket``: the host's WebSocket client for plugins, behind the entry's network whitelist.
@Suite struct PluginWebSocketTests {
    /// The client of an entry whose `permissions.network` lists only `hostPort`.
    static func client(allowing hostPort: String) -> PluginWebSocket {
        var grant = PermissionSet()
        grant.network = [hostPort].compactMap(EgressRule.init)
        return PluginWebSocket(permissions: grant, logger: Logger(label: "test"))
    }

    @Test("a host the entry does not list is refused, as is a scheme other than ws or wss; nothing is connected")
    func refusals() async throws {
        let client = Self.client(allowing: "127.0.0.1:1")
        await #expect(throws: PluginAccessDenied(permission: "network", subject: "127.0.0.1:2")) {
            try await client.connect(PluginWebSocketRequest(url: "ws://127.0.0.1:2/socket")) { _ in Issue.record("connected") }
        }
        await #expect(throws: PluginAccessDenied.self) {
            try await client.connect(PluginWebSocketRequest(url: "wss://example.org/socket")) { _ in Issue.record("connected") }
        }
        let error = await #expect(throws: ToolFailure.self) {
            try await client.connect(PluginWebSocketRequest(url: "http://127.0.0.1:1/socket")) { _ in Issue.record("connected") }
        }
        #expect(error?.message == "not a ws or wss URL: http://127.0.0.1:1/socket")
        // The client parses URLs its own way: user information could make it connect to another host than the one
        // checked, so such a URL is refused whatever the host.
        let smuggled = await #expect(throws: ToolFailure.self) {
            try await client.connect(PluginWebSocketRequest(url: "ws://elsewhere.example:1@127.0.0.1:1/socket")) { _ in Issue.record("connected") }
        }
        #expect(smuggled?.message.contains("may not carry a user or password") == true)
        #expect(try PluginWebSocket.checkedURL("WSS://127.0.0.1/a%20b?ticket=x&y=1#frag", host: "127.0.0.1", port: 443) == "wss://127.0.0.1:443/a%20b?ticket=x&y=1")
    }

    @Test("a server that does not answer the upgrade in time fails the connection at the handshake deadline", .timeLimit(.minutes(1)))
    func handshakeDeadline() async throws {
        let router = Router(context: FakePlatformContext.self)
        // Answers the upgrade request only after 3 s, and then without upgrading (the server's shutdown waits for it).
        router.get("hang") { _, _ -> Response in
            try await Task.sleep(for: .seconds(3))
            return Response(status: .ok)
        }
        try await FakePlatformServer.withServer(router) { server in
            let client = Self.client(allowing: "127.0.0.1:\(server.port)")
            let error = await #expect(throws: PluginWebSocketError.self) {
                try await client.connect(PluginWebSocketRequest(url: "ws://127.0.0.1:\(server.port)/hang", handshakeTimeoutSeconds: 0.5)) { _ in
                    Issue.record("connected")
                }
            }
            #expect(error?.message.contains("did not finish within 0.5 s") == true, "\(String(describing: error))")
        }
    }

    @Test("a session sends and receives, and returns the close frame the server ended with")
    func roundTrip() async throws {
        let slack = FakeSlack()
        try await FakePlatformServer.withServer(slack.router) { server in
            let client = Self.client(allowing: "127.0.0.1:\(server.port)")
            let close = try await client.connect(PluginWebSocketRequest(url: slack.connectionURL(host: "127.0.0.1:\(server.port)"))) { connection in
                var received: [String] = []
                for try await message in connection.messages {
                    guard case .text(let text) = message else { continue }
                    received.append(text)
                    if received.count == 1 {
                        #expect(text.contains(#""type":"hello""#))
                        try await connection.send(.text(#"{"envelope_id":"e-1"}"#))
                        // Closed by the fake from its side once the acknowledgement is in.
                        try #require(try await ChannelPluginHarness.eventually { slack.acknowledged.contains("e-1") })
                        slack.drop(try #require(slack.openSockets.first))
                    }
                }
                #expect(received.count == 1)
            }
            #expect(close?.code == 1000)
            #expect(slack.acknowledged == ["e-1"])
        }
    }
}
