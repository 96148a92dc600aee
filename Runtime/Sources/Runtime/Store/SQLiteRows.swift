import GRDB

// GRDB record conformances live on one generic wrapper so that the public record types stay free of GRDB
// and a PostgreSQL backend can store the same values. Column names come from each record's CodingKeys.

/// A record type kept in one SQLite table.
protocol StoredRecord: Codable, Sendable {
    static var tableName: String { get }
}

struct StoredRow<Record: StoredRecord>: Codable, FetchableRecord, PersistableRecord {
    static var databaseTableName: String { Record.tableName }
    var record: Record
    init(record: Record) { self.record = record }
    init(from decoder: any Decoder) throws { record = try Record(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

extension SessionRecord: StoredRecord { static var tableName: String { "sessions" } }
extension MessageRecord: StoredRecord { static var tableName: String { "messages" } }
extension ControlTokenRecord: StoredRecord { static var tableName: String { "control_tokens" } }
extension AuditEvent: StoredRecord { static var tableName: String { "audit_log" } }
extension JournalEntry: StoredRecord { static var tableName: String { "ingress_journal" } }
extension OutboxEntry: StoredRecord { static var tableName: String { "outbox" } }
extension PairingRecord: StoredRecord { static var tableName: String { "pairing" } }

typealias SessionRow = StoredRow<SessionRecord>
typealias MessageRow = StoredRow<MessageRecord>
typealias ControlTokenRow = StoredRow<ControlTokenRecord>
typealias AuditRow = StoredRow<AuditEvent>
typealias JournalRow = StoredRow<JournalEntry>
typealias PairingRow = StoredRow<PairingRecord>
typealias OutboxRow = StoredRow<OutboxEntry>
