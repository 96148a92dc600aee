import Foundation
import NIOWebSocket
import HTTPTypes
import HummingbirdWSClient
import Logging
import Testing

@testable import Runtime

@Suite(.serialized) struct ControlSocketTests {
    /// Opens `/ws`, sends each frame after reading the previous answer, and returns every text frame received.
    static func converse(
        _ gateway: TestGateway, session: String = "main", headers: HTTPFields? = nil, frames: [String], expecting count: Int, maxFrameSize: Int = 1 << 20
    ) async throws -> (received: [[String: Any]], close: WebSocketCloseFrame?) {
        var fields = headers ?? [.authorization: "Bearer \(gateway.controlToken)"]
        fields[.userAgent] = "ws-test"
        let collected = ReceivedFrames()
        let close = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(gateway.port)/ws?session=\(session)",
            configuration: .init(maxFrameSize: maxFrameSize, additionalHeaders: fields),
            logger: Logger(label: "ws-test")
        ) { inbound, outbound, _ in
            var iterator = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()
            var pending = frames[...]
            while collected.count < count, let message = try await iterator.next() {
                if case .text(let text) = message { collected.append(text) }
                let event = collected.last?["event"] as? String
                if collected.count == 1 || collected.last?["type"] as? String == "res" || event == "chat.message" || event == "chat.error" {
                    if let next = pending.popFirst() { try await outbound.write(.text(next)) }
                }
            }
            try? await outbound.close(.normalClosure, reason: nil)
        }
        return (collected.frames, close)
    }

    @Test func withoutAModelTheUserIsToldHowToConfigureOne() async throws {
        let gateway = try await TestGateway.start()
        let send = #"{"v":1,"type":"req","id":"c1","method":"chat.send","params":{"text":"hello swiftlet"}}"#
        let history = #"{"v":1,"type":"req","id":"c2","method":"chat.history","params":{}}"#
        let (frames, _) = try await Self.converse(gateway, frames: [send, history], expecting: 4)
        #expect(frames.count == 4)
        #expect(frames[0]["event"] as? String == "hello")
        #expect(frames[0]["seq"] as? Int == 1)
        #expect((frames[0]["data"] as? [String: Any])?["protocol"] as? Int == 1)
        #expect(frames[1]["type"] as? String == "res" && frames[1]["id"] as? String == "c1" && frames[1]["ok"] as? Bool == true)
        // The reply arrives as an event, independently of the history request sent right after the acknowledgement.
        let replyFrame = try #require(frames.first { $0["event"] as? String == "chat.error" })
        #expect(replyFrame["seq"] as? Int == 2)
        let reply = try #require(replyFrame["data"] as? [String: Any])
        #expect(reply["code"] as? String == "no_model")
        #expect((reply["message"] as? String)?.contains("agent.models") == true)
        #expect(reply["in_reply_to"] as? String == (frames[1]["result"] as? [String: Any])?["message_id"] as? String)
        let historyFrame = try #require(frames.first { $0["id"] as? String == "c2" })
        let listed = try #require((historyFrame["result"] as? [String: Any])?["messages"] as? [[String: Any]])
        #expect(listed.first?["role"] as? String == "user", "the message is stored before it is acknowledged")

        let session = try await gateway.state.store.session(key: "webchat:dm:owner", channel: "webchat", peer: "owner")
        let stored = try await gateway.state.store.messages(sessionID: session.id, limit: 10)
        #expect(stored.map(\.content).first == "hello swiftlet")
        #expect(stored.count == 2)
        try await gateway.stop()
    }

    @Test func badFramesGetClearErrorsAndTheSocketStaysUsable() async throws {
        let gateway = try await TestGateway.start(config: "channels:\n  webchat:\n    max_message_size: 64\n")
        let frames = [
            "this is not json",
            #"{"v":2,"type":"req","id":"a","method":"ping"}"#,
            #"{"v":1,"type":"subscribe","id":"b"}"#,
            #"{"v":1,"type":"req","id":"c","method":"teleport"}"#,
            #"{"v":1,"type":"req","id":"d","method":"chat.send","params":{"text":""}}"#,
            #"{"v":1,"type":"req","id":"e","method":"chat.send","params":"text"}"#,
            #"{"v":1,"type":"req","method":"ping"}"#,
            "{\"v\":1,\"type\":\"req\",\"id\":\"f\",\"method\":\"chat.send\",\"params\":{\"text\":\"\(String(repeating: "x", count: 100))\"}}",
            #"{"v":1,"type":"req","id":"g","method":"ping"}"#,
        ]
        let (received, _) = try await Self.converse(gateway, frames: frames, expecting: 10)
        let errors = received.dropFirst().map { ($0["error"] as? [String: Any])?["code"] as? String }
        #expect(errors == ["invalid_json", "unsupported_version", "unknown_type", "unknown_method", "invalid_params", "invalid_params", "invalid_frame", "message_too_large", nil])
        #expect(received.last?["id"] as? String == "g")
        #expect(received.last?["ok"] as? Bool == true)
        #expect(try await gateway.request("/health").status == 200)
        try await gateway.stop()
    }

    @Test func oversizedFrameClosesWithMessageTooBig() async throws {
        let gateway = try await TestGateway.start(config: "channels:\n  webchat:\n    max_frame_size: 4KiB\n")
        let huge = "{\"v\":1,\"type\":\"req\",\"id\":\"x\",\"method\":\"chat.send\",\"params\":{\"text\":\"\(String(repeating: "y", count: 20_000))\"}}"
        let (_, close) = try await Self.converse(gateway, frames: [huge], expecting: 2, maxFrameSize: 1 << 16)
        #expect(close?.closeCode == .messageTooLarge)
        #expect(try await gateway.request("/health").status == 200)
        try await gateway.stop()
    }

    @Test func upgradeWithoutTokenOrFromAnotherOriginIsRefused() async throws {
        let gateway = try await TestGateway.start()
        await #expect(throws: (any Error).self) {
            _ = try await Self.converse(gateway, headers: [:], frames: [], expecting: 1)
        }
        // A browser's cookie from a page on another origin must not open the socket.
        let session = try await gateway.state.authenticator.signer.issue(scope: .session, subject: "t", lifetime: .seconds(60))
        await #expect(throws: (any Error).self) {
            _ = try await Self.converse(gateway, headers: [.cookie: "\(ControlAuthenticator.cookieName)=\(session.token)", .origin: "http://evil.example"], frames: [], expecting: 1)
        }
        // The upgrader answers a refused upgrade with a bare 400; without upgrade headers the reason is JSON.
        let upgrade = try await gateway.request("/ws", headers: [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
        #expect(upgrade.status == 400)
        let plain = try await gateway.request("/ws")
        #expect(plain.status == 401)
        #expect((plain.json["error"] as? [String: Any])?["code"] as? String == "token_missing")
        let denied = try await gateway.state.store.auditEvents(type: "auth.denied", limit: 10)
        #expect(denied.count == 4)
        #expect(denied.contains { $0.payload.contains("origin_refused") })

        let (frames, _) = try await Self.converse(gateway, frames: [], expecting: 1)
        #expect(frames.first?["event"] as? String == "hello")
        #expect(try await gateway.state.store.auditEvents(type: "control.socket.opened", limit: 5).count == 1)
        try await gateway.stop()
    }

    @Test func sessionsAreSeparateByName() async throws {
        let gateway = try await TestGateway.start()
        let send = #"{"v":1,"type":"req","id":"1","method":"chat.send","params":{"text":"in a"}}"#
        _ = try await Self.converse(gateway, session: "a", frames: [send], expecting: 3)
        let history = #"{"v":1,"type":"req","id":"2","method":"chat.history"}"#
        let (frames, _) = try await Self.converse(gateway, session: "b", frames: [history], expecting: 2)
        #expect(((frames[1]["result"] as? [String: Any])?["messages"] as? [Any])?.isEmpty == true)
        let refused = try await gateway.request("/ws?session=bad%20name", token: gateway.controlToken)
        #expect(refused.status == 400)
        try await gateway.stop()
    }
}

/// Frames collected by a WebSocket handler.
final class ReceivedFrames: @unchecked Sendable {
    // @unchecked: guarded by `lock`; the handler and the test read it from different tasks.
    private let lock = NSLock()
    private var storage: [[String: Any]] = []

    func append(_ text: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? ["unparsed": text]
        lock.withLock { storage.append(object) }
    }

    var count: Int { lock.withLock { storage.count } }
    var last: [String: Any]? { lock.withLock { storage.last } }
    var frames: [[String: Any]] { lock.withLock { storage } }
}
