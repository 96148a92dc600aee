public import Foundation

/// A conversation: one per session key (channel, peer, and later thread and scope rules).
public struct SessionRecord: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, key, channel, peer
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public var id: String
    public var key: String
    public var channel: String
    public var peer: String
    public var createdAt: Date
    public var updatedAt: Date
}

/// One entry of a session transcript.
public struct MessageRecord: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, role, author, content
        case messageID = "message_id"
        case sessionID = "session_id"
        case createdAt = "created_at"
    }

    public enum Role: String, Sendable, Codable { case user, assistant, system, tool }

    public var id: Int64?
    /// Stable id used for tracing and idempotency.
    public var messageID: String
    public var sessionID: String
    public var role: Role
    /// Who produced the message: a user id, or the responder / model that answered.
    public var author: String
    public var content: String
    public var createdAt: Date

    public init(messageID: String, sessionID: String, role: Role, author: String, content: String, createdAt: Date = Date()) {
        self.messageID = messageID
        self.sessionID = sessionID
        self.role = role
        self.author = author
        self.content = content
        self.createdAt = createdAt
    }
}

/// A long-lived control token, stored only as its SHA-256 hash.
public struct ControlTokenRecord: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, name
        case tokenHash = "token_hash"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
        case lastUsedAt = "last_used_at"
    }

    public var id: String
    public var name: String
    public var tokenHash: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public init(id: String, name: String, tokenHash: String, createdAt: Date = Date(), expiresAt: Date? = nil) {
        self.id = id
        self.name = name
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// One row of the audit log: who did what, from where.
public struct AuditEvent: Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, payload
        case eventType = "event_type"
        case userID = "user_id"
        case ipAddress = "ip_address"
        case userAgent = "user_agent"
        case createdAt = "created_at"
    }

    public var id: Int64?
    public var eventType: String
    public var userID: String?
    public var ipAddress: String?
    public var userAgent: String?
    /// JSON object text with the event's details.
    public var payload: String
    public var createdAt: Date

    public init(
        eventType: String,
        userID: String? = nil,
        ipAddress: String? = nil,
        userAgent: String? = nil,
        payload: [String: String] = [:],
        createdAt: Date = Date()
    ) {
        self.eventType = eventType
        self.userID = userID
        self.ipAddress = ipAddress
        self.userAgent = userAgent
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.payload = (try? encoder.encode(payload)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
        self.createdAt = createdAt
    }
}

/// Row counts shown by `swiftlet gateway status`.
public struct StoreCounts: Sendable, Codable, Equatable {
    public var sessions: Int
    public var messages: Int
    public var controlTokens: Int
    public var auditEvents: Int
}

/// Durable state of the gateway. SQLite is the embedded default; a PostgreSQL backend implements the same
/// protocol for several nodes.
///
/// All methods may be called concurrently from any task.
public protocol GatewayStore: Sendable {
    /// Returns the session for `key`, creating it when it does not exist yet.
    func session(key: String, channel: String, peer: String) async throws -> SessionRecord
    @discardableResult
    func appendMessage(_ message: MessageRecord) async throws -> MessageRecord
    /// The latest `limit` messages of a session, oldest first.
    func messages(sessionID: String, limit: Int) async throws -> [MessageRecord]
    func countMessages(sessionID: String, role: MessageRecord.Role) async throws -> Int

    func insertControlToken(_ token: ControlTokenRecord) async throws
    func controlToken(hash: String) async throws -> ControlTokenRecord?
    func markControlTokenUsed(id: String, at date: Date) async throws

    @discardableResult
    func appendAudit(_ event: AuditEvent) async throws -> AuditEvent
    /// Newest first, optionally only one event type.
    func auditEvents(type: String?, limit: Int) async throws -> [AuditEvent]

    // MARK: Message path

    /// Writes an inbound message to the journal and marks its session active. A message whose (channel, external
    /// id) was journaled before is reported as a duplicate and not written again.
    ///
    /// The message reaches the transcript only with its turn (``finishTurn(_:)``): the transcript holds the
    /// conversation in the order it was answered, so a turn's context never contains a later message.
    func journal(_ entry: JournalEntry) async throws -> JournalResult
    /// Unfinished journal entries, oldest first: what to resume after a restart.
    func pendingJournal(limit: Int) async throws -> [JournalEntry]
    /// Unfinished journal entries of one session, oldest first (messages not yet in its transcript).
    func pendingJournal(sessionID: String) async throws -> [JournalEntry]
    func journalEntry(id: String) async throws -> JournalEntry?
    /// The journal entry of a channel's message by the platform's id, if it was journaled.
    func journalEntry(channel: String, externalID: String) async throws -> JournalEntry?
    /// Ends a turn in one transaction: transcript rows, the reply's outbox entry, usage rows, and every journal
    /// entry it answers marked `status`. Nothing of it is visible unless all of it is.
    func finishTurn(_ end: TurnEnd) async throws

    /// Queues a message that answers no turn (a pairing code, a rate-limit notice), durably.
    func enqueueOutbox(_ entry: OutboxEntry) async throws
    /// Outbox entries due for delivery at `now`, oldest first.
    func dueOutbox(now: Date, limit: Int) async throws -> [OutboxEntry]
    func outboxEntry(id: String) async throws -> OutboxEntry?
    /// Marks delivered entries sent, in one transaction.
    func markOutboxSent(_ deliveries: [(id: String, at: Date)]) async throws
    /// Records a failed delivery; `retryAt` nil marks the entry failed for good.
    func markOutboxFailed(id: String, error: String, retryAt: Date?) async throws

    func appendTrace(_ events: [TraceEvent]) async throws
    func traceEvents(messageID: String) async throws -> [TraceEvent]

    /// A plugin's own key-value entries (``PluginKeyValueStore``), by plugin name; a nil value removes the key.
    func pluginValue(plugin: String, key: String) async throws -> String?
    func setPluginValue(plugin: String, key: String, value: String?) async throws

    func sessionState(sessionID: String) async throws -> SessionState
    func updateSessionState(sessionID: String, _ state: SessionState) async throws
    /// The row id of the newest transcript message of a session, 0 when empty.
    func lastMessageRowID(sessionID: String) async throws -> Int64
    /// The session's state and the transcript rows of its current context (after its reset and summary
    /// markers), newest `limit` at most, oldest first, read together.
    func turnContext(sessionID: String, limit: Int) async throws -> (SessionState, [MessageRecord])
    /// The transcript row id of a message, nil when it is not stored.
    func rowID(messageID: String) async throws -> Int64?
    /// Transcript rows after `afterRowID`, oldest first, at most `limit` (newest kept when cut).
    func messages(sessionID: String, afterRowID: Int64, limit: Int) async throws -> [MessageRecord]

    func counts() async throws -> StoreCounts
    /// Flushes and closes; later calls fail.
    /// The pairing record of one sender of a channel, if any.
    func pairing(channel: String, sender: String) async throws -> PairingRecord?
    /// Every pairing record, of one channel or all, newest first.
    func pairings(channel: String?) async throws -> [PairingRecord]
    /// In one transaction: the sender's valid code if they hold one, else a new pending `code` valid until
    /// `expiresAt`, unless `maxPending` valid codes of the channel wait already. An expired code counts for nothing.
    func issuePairingCode(channel: String, sender: String, code: String, now: Date, expiresAt: Date, maxPending: Int) async throws -> PairingIssue
    /// Approves or rejects the sender holding the valid pending `code`; nil when no valid code matches.
    func decidePairing(channel: String, code: String, approve: Bool, by principal: String, now: Date) async throws -> PairingRecord?

    func close() async throws
}
