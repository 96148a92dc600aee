import Dispatch
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// A web chat client for integration tests: sends requests over `/ws` and waits for frames.
struct WebChatProbe: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        var waitingFor: String
        var seen: [String]
        var description: String { "timed out waiting for \(waitingFor); frames seen:\n" + seen.joined(separator: "\n") }
    }

    private let frames: Frames
    private let outbound: WebSocketOutboundWriter

    final class Frames: Sendable {
        let list = Mutex<[String]>([])
        let counter = Atomic(0)
        func append(_ text: String) {
            list.withLock { $0.append(text) }
        }

        var texts: [String] { list.withLock { $0 } }

        static func json(_ text: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }
    }

    /// Connects to `session`, runs `body` with a probe, then closes.
    static func with<T: Sendable>(
        port: Int, token: String, session: String = "main", _ body: @escaping @Sendable (WebChatProbe) async throws -> T
    ) async throws -> T {
        let result = Mutex<Result<T, any Error>?>(nil)
        _ = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/ws?session=\(session)",
            configuration: .init(maxFrameSize: 1 << 22, additionalHeaders: [.authorization: "Bearer \(token)"]),
            logger: Logger(label: "probe")
        ) { inbound, outbound, _ in
            let frames = Frames()
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        if case .text(let text) = message { frames.append(text) }
                    }
                }
                let probe = WebChatProbe(frames: frames, outbound: outbound)
                do {
                    let value = try await body(probe)
                    result.withLock { $0 = .success(value) }
                } catch {
                    result.withLock { $0 = .failure(error) }
                }
                try? await outbound.close(.normalClosure, reason: nil)
                group.cancelAll()
            }
        }
        guard let outcome = result.withLock({ $0 }) else { throw Timeout(waitingFor: "the connection", seen: []) }
        return try outcome.get()
    }

    /// Sends a request and returns its id.
    @discardableResult
    func request(_ method: String, _ params: [String: Any] = [:]) async throws -> String {
        let id = "t\(frames.counter.add(1, ordering: .relaxed).newValue)"
        let frame: [String: Any] = ["v": 1, "type": "req", "id": id, "method": method, "params": params]
        let data = try JSONSerialization.data(withJSONObject: frame)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
        return id
    }

    /// Sends a chat message and returns its message id from the response.
    func send(_ text: String, timeout: Duration = .seconds(20)) async throws -> String {
        let id = try await request("chat.send", ["text": text])
        let response = try await wait(for: "response \(id)", timeout: timeout) { $0["type"] as? String == "res" && $0["id"] as? String == id }
        guard let messageID = (response["result"] as? [String: Any])?["message_id"] as? String else {
            throw Timeout(waitingFor: "a message id in \(response)", seen: [])
        }
        return messageID
    }

    /// The final event (`chat.message` or `chat.error`) answering `messageID`.
    func reply(to messageID: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        try await wait(for: "the reply to \(messageID)", timeout: timeout) { frame in
            let event = frame["event"] as? String
            return (event == "chat.message" || event == "chat.error") && (frame["data"] as? [String: Any])?["in_reply_to"] as? String == messageID
        }
    }

    /// Every frame received so far.
    var received: [[String: Any]] { frames.texts.map(Frames.json) }

    /// Waits for the first frame matching `predicate`.
    func wait(for what: String, timeout: Duration = .seconds(20), _ predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = frames.texts.lazy.map(Frames.json).first(where: predicate) { return match }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Timeout(waitingFor: what, seen: frames.texts)
    }
}

/// Runs blocking work (pipes, waitUntilExit) on a Dispatch thread, off the small cooperative pool that the
/// gateways and fake servers of parallel tests share.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
