public import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, written through GRDB's connection pool.
///
/// WAL lets the CLI read and append audit rows while a gateway runs; writers wait up to the configured
/// busy timeout for each other.
public final class SQLiteStore: GatewayStore {
    public let path: String
    private let pool: DatabasePool
    /// The per-message writes (journal, end of turn) go through group commit.
    private let batcher: WriteBatcher

    /// Opens (creating when missing, with mode 0600) and migrates the database.
    ///
    /// - Parameters:
    ///   - path: database file; its folder must exist.
    ///   - busyTimeout: how long a write waits for another connection's lock.
    ///   - synchronous: `normal` survives a crash or kill of the gateway (WAL); `full` also a power cut, slower.
    public init(path: String, busyTimeout: Duration = .seconds(5), synchronous: String = "normal") throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError.cannotOpen(path: path, reason: "cannot create the file (is its folder writable?)")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18)
        configuration.label = "swiftlet"
        let synchronousMode = synchronous == "full" ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronousMode)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: String(describing: error))
        }
        try Self.migrate(pool)
        batcher = WriteBatcher(pool: pool)
    }

    static func migrate(_ writer: any DatabaseWriter, upTo target: String? = nil) throws {
        let migrator = SQLiteMigrations.migrator
        let superseded = try writer.read { try migrator.hasBeenSuperseded($0) }
        if superseded {
            throw StoreError.newerSchema(applied: try writer.read { try migrator.appliedIdentifiers($0).sorted() }, known: migrator.migrations)
        }
        if let target {
            try migrator.migrate(writer, upTo: target)
        } else {
            try migrator.migrate(writer)
        }
    }

    /// The identifiers of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { try SQLiteMigrations.migrator.appliedMigrations($0) }
    }

    public func session(key: String, channel: String, peer: String) async throws -> SessionRecord {
        try await pool.write { db in
            if let existing = try SessionRow.filter(Column("key") == key).fetchOne(db) { return existing.record }
            let now = Date()
            let row = SessionRow(record: SessionRecord(id: UUID().uuidString.lowercased(), key: key, channel: channel, peer: peer, createdAt: now, updatedAt: now))
            try row.insert(db)
            return row.record
        }
    }

    @discardableResult
    public func appendMessage(_ message: MessageRecord) async throws -> MessageRecord {
        try await pool.write { db in
            var row = MessageRow(record: message)
            try row.insert(db)
            row.record.id = db.lastInsertedRowID
            try db.execute(sql: "UPDATE sessions SET updated_at = ? WHERE id = ?", arguments: [message.createdAt, message.sessionID])
            return row.record
        }
    }

    public func messages(sessionID: String, limit: Int) async throws -> [MessageRecord] {
        try await messages(sessionID: sessionID, afterRowID: 0, limit: limit)
    }

    public func countMessages(sessionID: String, role: MessageRecord.Role) async throws -> Int {
        try await pool.read { db in
            try MessageRow.filter(Column("session_id") == sessionID && Column("role") == role.rawValue).fetchCount(db)
        }
    }

    public func insertControlToken(_ token: ControlTokenRecord) async throws {
        try await pool.write { db in try ControlTokenRow(record: token).insert(db) }
    }

    public func controlToken(hash: String) async throws -> ControlTokenRecord? {
        try await pool.read { db in try ControlTokenRow.filter(Column("token_hash") == hash).fetchOne(db)?.record }
    }

    public func markControlTokenUsed(id: String, at date: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE control_tokens SET last_used_at = ? WHERE id = ?", arguments: [date, id])
        }
    }

    @discardableResult
    public func appendAudit(_ event: AuditEvent) async throws -> AuditEvent {
        try await pool.write { db in
            var row = AuditRow(record: event)
            try row.insert(db)
            row.record.id = db.lastInsertedRowID
            return row.record
        }
    }

    public func auditEvents(type: String?, limit: Int) async throws -> [AuditEvent] {
        try await pool.read { db in
            var request = AuditRow.order(Column("id").desc).limit(limit)
            if let type { request = request.filter(Column("event_type") == type) }
            return try request.fetchAll(db).map(\.record)
        }
    }

    // MARK: Message path

    public func journal(_ entry: JournalEntry) async throws -> JournalResult {
        try await batcher.write { db in
            if let external = entry.externalID, let existing = try Self.journalEntry(channel: entry.channel, externalID: external, db) {
                return .duplicate(existing)
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO ingress_journal (id, channel, external_id, session_key, session_id, peer, sender, text, reply_target, status, attempts, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                    """
            ).execute(arguments: [
                entry.id, entry.channel, entry.externalID, entry.sessionKey, entry.sessionID, entry.peer, entry.sender, entry.text, entry.replyTarget,
                entry.status.rawValue, entry.receivedAt.storedTimestamp,
            ])
            try db.cachedStatement(sql: "UPDATE sessions SET updated_at = ? WHERE id = ?").execute(arguments: [entry.receivedAt.storedTimestamp, entry.sessionID])
            return .accepted(entry)
        }
    }

    /// Inserts a transcript row unless one with its message id exists (a resumed turn writes the same ids).
    private static func insert(_ message: MessageRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO messages (message_id, session_id, role, author, content, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [message.messageID, message.sessionID, message.role.rawValue, message.author, message.content, message.createdAt.storedTimestamp])
    }

    public func pendingJournal(limit: Int) async throws -> [JournalEntry] {
        try await pool.read { db in
            try JournalRow.filter(Column("status") == JournalEntry.Status.pending.rawValue).order(Column("received_at"), Column("rowid")).limit(limit)
                .fetchAll(db).map(\.record)
        }
    }

    public func pendingJournal(sessionID: String) async throws -> [JournalEntry] {
        try await pool.read { db in
            try JournalRow.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM ingress_journal WHERE status = 'pending' AND session_id = ? ORDER BY received_at, rowid"),
                arguments: [sessionID]
            ).map(\.record)
        }
    }

    public func journalEntry(id: String) async throws -> JournalEntry? {
        try await pool.read { db in try JournalRow.fetchOne(db, key: id)?.record }
    }

    public func journalEntry(channel: String, externalID: String) async throws -> JournalEntry? {
        try await pool.read { db in try Self.journalEntry(channel: channel, externalID: externalID, db) }
    }

    private static func journalEntry(channel: String, externalID: String, _ db: Database) throws -> JournalEntry? {
        try JournalRow.fetchOne(db.cachedStatement(sql: "SELECT * FROM ingress_journal WHERE channel = ? AND external_id = ?"), arguments: [channel, externalID])?.record
    }

    public func finishTurn(_ end: TurnEnd) async throws {
        try await batcher.write { db in
            for message in end.transcript { try Self.insert(message, db) }
            if let last = end.transcript.last {
                try db.cachedStatement(sql: "UPDATE sessions SET updated_at = ? WHERE id = ?").execute(arguments: [last.createdAt.storedTimestamp, last.sessionID])
            }
            if let outbox = end.outbox { try Self.insert(outbox, db) }
            let usageInsert = try db.cachedStatement(
                sql: "INSERT INTO model_usage (message_id, session_id, provider, model, input_tokens, output_tokens, latency_ms, ok, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for record in end.usage {
                try usageInsert.execute(arguments: [
                    record.messageID, record.sessionID, record.provider, record.model, record.inputTokens, record.outputTokens, record.latencyMs, record.ok, record.at.storedTimestamp,
                ])
            }
            let finished = Date().storedTimestamp
            let update = try db.cachedStatement(
                sql: "UPDATE ingress_journal SET status = ?, error = ?, finished_at = ?, attempts = attempts + 1, answered_by = ? WHERE id = ?")
            for (index, id) in end.journalIDs.enumerated() {
                try update.execute(arguments: [end.status.rawValue, end.error, finished, index == 0 ? nil : end.journalIDs[0], id])
            }
        }
    }

    public func enqueueOutbox(_ entry: OutboxEntry) async throws {
        try await batcher.write { db in try Self.insert(entry, db) }
    }

    private static func insert(_ outbox: OutboxEntry, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO outbox (id, message_id, session_id, reply_message_id, channel, target, body, kind, status, attempts, meta, next_attempt_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                """
        ).execute(arguments: [
            outbox.id, outbox.messageID, outbox.sessionID, outbox.replyMessageID, outbox.channel, outbox.target, outbox.body, outbox.kind.rawValue,
            outbox.status.rawValue, outbox.meta, outbox.nextAttemptAt.storedTimestamp, outbox.createdAt.storedTimestamp,
        ])
    }

    public func dueOutbox(now: Date, limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try OutboxRow.filter(Column("status") == OutboxEntry.Status.pending.rawValue && Column("next_attempt_at") <= now)
                .order(Column("next_attempt_at")).limit(limit).fetchAll(db).map(\.record)
        }
    }

    public func outboxEntry(id: String) async throws -> OutboxEntry? {
        try await pool.read { db in try OutboxRow.fetchOne(db, key: id)?.record }
    }

    public func markOutboxSent(_ deliveries: [(id: String, at: Date)]) async throws {
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?")
            for delivery in deliveries { try statement.execute(arguments: [delivery.at.storedTimestamp, delivery.id]) }
        }
    }

    public func markOutboxFailed(id: String, error: String, retryAt: Date?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                arguments: [retryAt == nil ? OutboxEntry.Status.failed.rawValue : OutboxEntry.Status.pending.rawValue, error, retryAt, id])
        }
    }

    public func appendTrace(_ events: [TraceEvent]) async throws {
        guard !events.isEmpty else { return }
        let grouped = TraceLines.grouped(events)
        try await pool.write { db in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO message_traces (message_id, started_at, hops) VALUES (?, ?, ?)
                    ON CONFLICT (message_id) DO UPDATE SET hops = hops || char(10) || excluded.hops
                    """)
            for group in grouped { try upsert.execute(arguments: [group.messageID, group.startedAt, group.lines]) }
        }
    }

    public func pluginValue(plugin: String, key: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM plugin_kv WHERE plugin = ? AND key = ?"), arguments: [plugin, key])
        }
    }

    public func pairing(channel: String, sender: String) async throws -> PairingRecord? {
        try await pool.read { db in
            try PairingRow.filter(Column("channel") == channel && Column("sender") == sender).fetchOne(db)?.record
        }
    }

    public func pairings(channel: String?) async throws -> [PairingRecord] {
        try await pool.read { db in
            var request = PairingRow.order(Column("created_at").desc)
            if let channel { request = request.filter(Column("channel") == channel) }
            return try request.fetchAll(db).map(\.record)
        }
    }

    public func issuePairingCode(channel: String, sender: String, code: String, now: Date, expiresAt: Date, maxPending: Int) async throws -> PairingIssue {
        try await pool.write { db in
            if let existing = try PairingRow.filter(Column("channel") == channel && Column("sender") == sender).fetchOne(db)?.record {
                switch existing.state {
                case .approved, .rejected: return .decided(existing.state)
                case .pending where !existing.isExpired(at: now): return .existing(code: existing.code ?? "")
                case .pending: break
                }
            }
            let waiting = try PairingRow.filter(Column("channel") == channel && Column("state") == PairingRecord.State.pending.rawValue).fetchAll(db)
                .filter { !$0.record.isExpired(at: now) }.count
            guard waiting < maxPending else { return .tooManyPending }
            try PairingRow(record: PairingRecord(channel: channel, sender: sender, code: code, state: .pending, createdAt: now, expiresAt: expiresAt))
                .save(db)
            return .issued(code: code)
        }
    }

    public func decidePairing(channel: String, code: String, approve: Bool, by principal: String, now: Date) async throws -> PairingRecord? {
        try await pool.write { db in
            let pending = try PairingRow.filter(
                Column("channel") == channel && Column("code") == code && Column("state") == PairingRecord.State.pending.rawValue
            ).fetchOne(db)
            guard var row = pending, !row.record.isExpired(at: now) else { return nil }
            row.record.state = approve ? .approved : .rejected
            row.record.decidedAt = now
            row.record.decidedBy = principal
            try row.update(db)
            return row.record
        }
    }

    public func setPluginValue(plugin: String, key: String, value: String?) async throws {
        try await pool.write { db in
            if let value {
                try db.cachedStatement(
                    sql: "INSERT INTO plugin_kv (plugin, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
                ).execute(arguments: [plugin, key, value, Date().storedTimestamp])
            } else {
                try db.cachedStatement(sql: "DELETE FROM plugin_kv WHERE plugin = ? AND key = ?").execute(arguments: [plugin, key])
            }
        }
    }

    public func traceEvents(messageID: String) async throws -> [TraceEvent] {
        let hops = try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT hops FROM message_traces WHERE message_id = ?"), arguments: [messageID])
        }
        return hops.map { TraceLines.events(messageID: messageID, lines: $0) } ?? []
    }

    public func turnContext(sessionID: String, limit: Int) async throws -> (SessionState, [MessageRecord]) {
        try await pool.read { db in
            let state = try Self.sessionState(sessionID: sessionID, db)
            return (state, try Self.messages(sessionID: sessionID, afterRowID: max(state.contextStart, state.summaryThrough), limit: limit, db))
        }
    }

    public func sessionState(sessionID: String) async throws -> SessionState {
        try await pool.read { db in try Self.sessionState(sessionID: sessionID, db) }
    }

    private static func sessionState(sessionID: String, _ db: Database) throws -> SessionState {
        let statement = try db.cachedStatement(
            sql: "SELECT model_override, context_start, summary, summary_through, last_reset_at, updated_at FROM sessions WHERE id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [sessionID]) else { return SessionState() }
        return SessionState(
            modelOverride: row["model_override"], contextStart: row["context_start"], summary: row["summary"], summaryThrough: row["summary_through"],
            lastResetAt: row["last_reset_at"], lastActivity: row["updated_at"])
    }

    public func updateSessionState(sessionID: String, _ state: SessionState) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE sessions SET model_override = ?, context_start = ?, summary = ?, summary_through = ?, last_reset_at = ? WHERE id = ?",
                arguments: [state.modelOverride, state.contextStart, state.summary, state.summaryThrough, state.lastResetAt, sessionID])
        }
    }

    public func lastMessageRowID(sessionID: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM messages WHERE session_id = ?", arguments: [sessionID]) ?? 0
        }
    }

    public func rowID(messageID: String) async throws -> Int64? {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT id FROM messages WHERE message_id = ?", arguments: [messageID]) }
    }

    /// Read on every turn to build the context, so rows are decoded by column index rather than through Codable.
    public func messages(sessionID: String, afterRowID: Int64, limit: Int) async throws -> [MessageRecord] {
        try await pool.read { db in try Self.messages(sessionID: sessionID, afterRowID: afterRowID, limit: limit, db) }
    }

    private static func messages(sessionID: String, afterRowID: Int64, limit: Int, _ db: Database) throws -> [MessageRecord] {
        let statement = try db.cachedStatement(
            sql: "SELECT id, message_id, role, author, content, created_at FROM messages WHERE session_id = ? AND id > ? ORDER BY id DESC LIMIT ?")
        let rows = try Row.fetchCursor(statement, arguments: [sessionID, afterRowID, limit])
        var records: [MessageRecord] = []
        while let row = try rows.next() {
            var record = MessageRecord(
                messageID: row[1], sessionID: sessionID, role: MessageRecord.Role(rawValue: row[2]) ?? .system, author: row[3], content: row[4],
                createdAt: row[5])
            record.id = row[0]
            records.append(record)
        }
        return records.reversed()
    }

    public func counts() async throws -> StoreCounts {
        try await pool.read { db in
            StoreCounts(
                sessions: try SessionRow.fetchCount(db),
                messages: try MessageRow.fetchCount(db),
                controlTokens: try ControlTokenRow.fetchCount(db),
                auditEvents: try AuditRow.fetchCount(db))
        }
    }

    public func close() async throws {
        try pool.close()
    }
}

public enum StoreError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case newerSchema(applied: [String], known: [String])

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open the database \(path): \(reason)"
        case .newerSchema(let applied, let known):
            "the database was written by a newer swiftlet (migrations \(Set(applied).subtracting(known).sorted().joined(separator: ", ")) are unknown to this version); upgrade swiftlet or restore a backup"
        }
    }
}
