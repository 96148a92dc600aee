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
        let meta = ReplyMeta(jsonText: entry.meta)
        var data: [String: JSONValue] = ["in_reply_to": .string(entry.messageID), "delivery_id": .string(entry.id)]
        if meta.receivedAtMs > 0 {
            // Receive → delivery, and the share of it spent waiting on the model: for clients and the benchmark.
            data["timings"] = .object(["total_ms": .number(Date().timeIntervalSince1970 * 1000 - meta.receivedAtMs), "provider_ms": .number(meta.providerMs)])
        }
        if let model = meta.model { data["model"] = .string(model) }
        if let code = meta.code { data["code"] = .string(code) }
        switch entry.kind {
        case .message:
            data["message_id"] = .string(entry.replyMessageID)
            data["role"] = .string("assistant")
            data["text"] = .string(entry.body)
            publish(session: entry.target, event: "chat.message", data: .object(data))
        case .error:
            data["message"] = .string(entry.body)
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
