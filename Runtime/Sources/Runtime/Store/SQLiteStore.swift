public import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, written through GRDB's connection pool.
///
/// WAL lets the CLI read and append audit rows while a gateway runs; writers wait up to the configured
/// busy timeout for each other.
public final class SQLiteStore: GatewayStore {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating when missing, with mode 0600) and migrates the database.
    ///
    /// - Parameters:
    ///   - path: database file; its folder must exist.
    ///   - busyTimeout: how long a write waits for another connection's lock.
    public init(path: String, busyTimeout: Duration = .seconds(5)) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError.cannotOpen(path: path, reason: "cannot create the file (is its folder writable?)")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18)
        configuration.label = "swiftlet"
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: String(describing: error))
        }
        try Self.migrate(pool)
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
        try await pool.read { db in
            try MessageRow.filter(Column("session_id") == sessionID).order(Column("id").desc).limit(limit).fetchAll(db).reversed().map(\.record)
        }
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
