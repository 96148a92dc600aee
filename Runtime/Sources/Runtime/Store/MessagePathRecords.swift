public import Foundation

/// An inbound message as the ingress journal keeps it: written before the channel is acknowledged,
/// finished once its reply sits in the outbox.
public struct JournalEntry: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, channel, peer, sender, text, status, error, attempts
        case externalID = "external_id"
        case sessionKey = "session_key"
        case sessionID = "session_id"
        case replyTarget = "reply_target"
        case receivedAt = "received_at"
        case finishedAt = "finished_at"
        case answeredBy = "answered_by"
    }

    public enum Status: String, Sendable, Codable { case pending, done, failed, cancelled }

    /// The message id: traces, transcript and outbox entries refer to it.
    public var id: String
    public var channel: String
    /// The platform's own id, so a redelivered webhook is recognised and not answered twice.
    public var externalID: String?
    public var sessionKey: String
    public var sessionID: String
    public var peer: String
    public var sender: String
    public var text: String
    /// Where the reply goes, in the channel's own terms (for the web chat: the session name).
    public var replyTarget: String
    public var status: Status
    public var attempts: Int
    public var error: String?
    public var receivedAt: Date
    public var finishedAt: Date?
    /// The message whose turn answered this one together with it (`sessions.queue` collect or steer); nil when
    /// its own turn answered it.
    public var answeredBy: String?

    public init(
        id: String, channel: String, externalID: String? = nil, sessionKey: String, sessionID: String, peer: String, sender: String, text: String,
        replyTarget: String, receivedAt: Date = Date()
    ) {
        self.id = id
        self.channel = channel
        self.externalID = externalID
        self.sessionKey = sessionKey
        self.sessionID = sessionID
        self.peer = peer
        self.sender = sender
        self.text = text
        self.replyTarget = replyTarget
        self.status = .pending
        self.attempts = 0
        self.receivedAt = receivedAt
    }
}

/// A reply waiting for (or done with) delivery. Its id is the idempotency key the channel sees.
public struct OutboxEntry: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, channel, target, body, kind, status, attempts, meta
        case messageID = "message_id"
        case sessionID = "session_id"
        case replyMessageID = "reply_message_id"
        case lastError = "last_error"
        case nextAttemptAt = "next_attempt_at"
        case createdAt = "created_at"
        case sentAt = "sent_at"
    }

    public enum Kind: String, Sendable, Codable { case message, error }
    public enum Status: String, Sendable, Codable { case pending, sent, failed }

    public var id: String
    /// The inbound message this answers.
    public var messageID: String
    public var sessionID: String
    /// The transcript id of the reply (the `message_id` of its assistant message), empty for errors.
    public var replyMessageID: String
    public var channel: String
    public var target: String
    public var body: String
    public var kind: Kind
    public var status: Status
    public var attempts: Int
    public var lastError: String?
    /// JSON object text: timings and model, shown to clients that want them.
    public var meta: String
    public var nextAttemptAt: Date
    public var createdAt: Date
    public var sentAt: Date?

    /// The id of the outbox entry that answers message `messageID` (one reply per message).
    public static func replyID(for messageID: String) -> String { "\(messageID):reply" }

    public init(
        messageID: String, sessionID: String, replyMessageID: String, channel: String, target: String, body: String, kind: Kind, meta: String = "{}",
        createdAt: Date = Date()
    ) {
        self.id = Self.replyID(for: messageID)
        self.messageID = messageID
        self.sessionID = sessionID
        self.replyMessageID = replyMessageID
        self.channel = channel
        self.target = target
        self.body = body
        self.kind = kind
        self.status = .pending
        self.attempts = 0
        self.meta = meta
        self.nextAttemptAt = createdAt
        self.createdAt = createdAt
    }
}

/// One hop of one message's trip through the gateway.
public struct TraceEvent: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case hop, at, detail
        case messageID = "message_id"
        case durationMs = "duration_ms"
    }

    public var messageID: String
    /// received, routed, turn.start, model.start, model.end, tool.start, tool.end, reply.queued, reply.sent, ...
    public var hop: String
    public var at: Date
    public var durationMs: Double?
    /// JSON object text with the hop's details (provider, model, tokens, error...).
    public var detail: String

    public init(messageID: String, hop: String, at: Date = Date(), durationMs: Double? = nil, detail: [String: JSONValue] = [:]) {
        self.messageID = messageID
        self.hop = hop
        self.at = at
        self.durationMs = durationMs
        self.detail = JSONValue.object(detail).jsonText
    }
}

/// Token usage of one model call.
public struct UsageRecord: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, provider, model, ok, at
        case messageID = "message_id"
        case sessionID = "session_id"
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case latencyMs = "latency_ms"
    }

    public var id: Int64?
    public var messageID: String
    public var sessionID: String
    public var provider: String
    public var model: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var latencyMs: Double
    public var ok: Bool
    public var at: Date

    public init(messageID: String, sessionID: String, provider: String, model: String, usage: TokenUsage, latencyMs: Double, ok: Bool, at: Date = Date()) {
        self.messageID = messageID
        self.sessionID = sessionID
        self.provider = provider
        self.model = model
        self.inputTokens = usage.input
        self.outputTokens = usage.output
        self.latencyMs = latencyMs
        self.ok = ok
        self.at = at
    }
}

/// Per-session settings and context markers kept beside the transcript.
public struct SessionState: Sendable, Equatable {
    /// `/model` override, nil for the configured models.
    public var modelOverride: String?
    /// Transcript rows up to and including this one are not part of the context (`/new`, `/reset`, reset policies).
    public var contextStart: Int64
    /// Summary of the transcript up to and including `summaryThrough`, used instead of those rows.
    public var summary: String?
    public var summaryThrough: Int64
    public var lastResetAt: Date?
    /// When the session's newest message was stored (read from the session; not written by
    /// ``GatewayStore/updateSessionState(sessionID:_:)``).
    public var lastActivity: Date?

    public init(
        modelOverride: String? = nil, contextStart: Int64 = 0, summary: String? = nil, summaryThrough: Int64 = 0, lastResetAt: Date? = nil,
        lastActivity: Date? = nil
    ) {
        self.modelOverride = modelOverride
        self.contextStart = contextStart
        self.summary = summary
        self.summaryThrough = summaryThrough
        self.lastResetAt = lastResetAt
        self.lastActivity = lastActivity
    }

    /// Starts a fresh context after transcript row `row`: earlier turns and their summary are no longer sent.
    public mutating func startFresh(after row: Int64, at date: Date = Date()) {
        contextStart = row
        summary = nil
        summaryThrough = 0
        lastResetAt = date
    }
}

/// The end of one turn, written in one transaction by ``GatewayStore/finishTurn(_:)``.
public struct TurnEnd: Sendable, Equatable {
    /// The journal entries the turn answers, in the order they arrived; the first is the turn's anchor (its
    /// reply, traces and transcript ids are named after it), the others are marked answered by it.
    public var journalIDs: [String]
    public var status: JournalEntry.Status
    public var error: String?
    /// The turn's transcript rows in conversation order: its user messages, tool results and the answer.
    public var transcript: [MessageRecord]
    public var outbox: OutboxEntry?
    public var usage: [UsageRecord]

    public init(
        journalIDs: [String], status: JournalEntry.Status, error: String? = nil, transcript: [MessageRecord], outbox: OutboxEntry? = nil,
        usage: [UsageRecord] = []
    ) {
        self.journalIDs = journalIDs
        self.status = status
        self.error = error
        self.transcript = transcript
        self.outbox = outbox
        self.usage = usage
    }
}

/// What ``GatewayStore/journal(_:)`` did with an inbound message.
public enum JournalResult: Sendable, Equatable {
    case accepted(JournalEntry)
    /// The channel delivered a message with the same external id before; this is the first one.
    case duplicate(JournalEntry)
}

/// What an outbox entry's `meta` holds: when the message arrived, and how its answer was made.
public struct ReplyMeta: Sendable, Equatable {
    /// Wall-clock milliseconds since 1970 at which the gateway received the message.
    public var receivedAtMs: Double
    public var providerMs: Double
    public var model: String?
    public var code: String?
    /// The reply targets of the other messages the reply answers (a shared turn), where they differ from the entry's
    /// own: a channel whose targets name one waiting request (a webhook's synchronous reply) answers them too.
    public var alsoTargets: [String]

    public init(receivedAtMs: Double, providerMs: Double, model: String?, code: String?, alsoTargets: [String] = []) {
        self.receivedAtMs = receivedAtMs
        self.providerMs = providerMs
        self.model = model
        self.code = code
        self.alsoTargets = alsoTargets
    }

    public var jsonText: String {
        var object: [String: JSONValue] = ["received_at_ms": .number(receivedAtMs), "provider_ms": .number(providerMs)]
        if let model { object["model"] = .string(model) }
        if let code { object["code"] = .string(code) }
        if !alsoTargets.isEmpty { object["also_targets"] = .array(alsoTargets.map(JSONValue.string)) }
        return JSONValue.object(object).jsonText
    }

    /// Reads what ``jsonText`` wrote; missing or unreadable fields come back as zero and nil.
    public init(jsonText: String) {
        let value = try? JSONValue(parsing: jsonText)
        func number(_ key: String) -> Double {
            if case .number(let number)? = value?[key] { return number }
            return 0
        }
        var also: [String] = []
        if case .array(let targets)? = value?["also_targets"] { also = targets.compactMap(\.stringValue) }
        self.init(
            receivedAtMs: number("received_at_ms"), providerMs: number("provider_ms"), model: value?["model"]?.stringValue, code: value?["code"]?.stringValue,
            alsoTargets: also)
    }
}
