public import Foundation
import Synchronization

/// Live web chat sockets by session name: where replies, streamed text and retractions are pushed.
///
/// The transcript is the durable copy of every reply; a socket that connects later reads it with
/// `chat.history`. Delivery to the sockets open now is therefore all the web chat's outbox needs.
public final class WebChatHub: ChannelSender {
    public typealias Subscriber = @Sendable (_ event: String, _ data: JSONValue) -> Void

    public let channel = "webchat"
    private let subscribers = Mutex<[String: [UUID: Subscriber]]>([:])

    public init() {}

    /// Registers a socket of session `name`; the returned id unsubscribes it.
    public func subscribe(session name: String, _ subscriber: @escaping Subscriber) -> UUID {
        let id = UUID()
        subscribers.withLock { $0[name, default: [:]][id] = subscriber }
        return id
    }

    public func unsubscribe(session name: String, id: UUID) {
        subscribers.withLock { all in
            all[name]?[id] = nil
            if all[name]?.isEmpty == true { all[name] = nil }
        }
    }

    public func publish(session name: String, event: String, data: JSONValue) {
        let targets = subscribers.withLock { Array(($0[name] ?? [:]).values) }
        for target in targets { target(event, data) }
    }

    public func deliver(_ entry: OutboxEntry) async throws {
        var meta = (try? JSONDecoder().decode(JSONValue.self, from: Data(entry.meta.utf8))) ?? .object([:])
        // Timings for clients and the benchmark: receive → delivery, and the share spent waiting on the model.
        if case .object(var fields) = meta, case .number(let receivedAt)? = fields.removeValue(forKey: "received_at_ms") {
            let providerMs = fields.removeValue(forKey: "provider_ms") ?? .number(0)
            fields["timings"] = .object(["total_ms": .number(Date().timeIntervalSince1970 * 1000 - receivedAt), "provider_ms": providerMs])
            meta = .object(fields)
        }
        switch entry.kind {
        case .message:
            var data: [String: JSONValue] = [
                "message_id": .string(entry.replyMessageID), "in_reply_to": .string(entry.messageID), "role": .string("assistant"),
                "text": .string(entry.body), "delivery_id": .string(entry.id),
            ]
            if case .object(let fields) = meta { data.merge(fields) { current, _ in current } }
            publish(session: entry.target, event: "chat.message", data: .object(data))
        case .error:
            var data: [String: JSONValue] = ["in_reply_to": .string(entry.messageID), "message": .string(entry.body), "delivery_id": .string(entry.id)]
            if case .object(let fields) = meta { data.merge(fields) { current, _ in current } }
            publish(session: entry.target, event: "chat.error", data: .object(data))
        }
    }
}

extension WebChatHub: StreamingChannel {
    public func stream(_ event: Agent.Event, for entry: JournalEntry) {
        switch event {
        case .text(let text, let attempt):
            publish(session: entry.replyTarget, event: "chat.delta", data: .object(["in_reply_to": .string(entry.id), "attempt": .number(Double(attempt)), "text": .string(text)]))
        case .retract(let attempt):
            publish(session: entry.replyTarget, event: "chat.retract", data: .object(["in_reply_to": .string(entry.id), "attempt": .number(Double(attempt))]))
        }
    }
}
