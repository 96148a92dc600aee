import GRDB

// GRDB record conformances live on private wrappers so that the public record types stay free of GRDB
// and a PostgreSQL backend can store the same values. Column names come from each record's CodingKeys.

struct SessionRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "sessions"
    var record: SessionRecord
    init(record: SessionRecord) { self.record = record }
    init(from decoder: any Decoder) throws { record = try SessionRecord(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct MessageRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "messages"
    var record: MessageRecord
    init(record: MessageRecord) { self.record = record }
    init(from decoder: any Decoder) throws { record = try MessageRecord(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct ControlTokenRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "control_tokens"
    var record: ControlTokenRecord
    init(record: ControlTokenRecord) { self.record = record }
    init(from decoder: any Decoder) throws { record = try ControlTokenRecord(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct AuditRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit_log"
    var record: AuditEvent
    init(record: AuditEvent) { self.record = record }
    init(from decoder: any Decoder) throws { record = try AuditEvent(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct JournalRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "ingress_journal"
    var record: JournalEntry
    init(record: JournalEntry) { self.record = record }
    init(from decoder: any Decoder) throws { record = try JournalEntry(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct OutboxRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "outbox"
    var record: OutboxEntry
    init(record: OutboxEntry) { self.record = record }
    init(from decoder: any Decoder) throws { record = try OutboxEntry(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct TraceRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "trace_events"
    var record: TraceEvent
    init(record: TraceEvent) { self.record = record }
    init(from decoder: any Decoder) throws { record = try TraceEvent(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}

struct UsageRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "model_usage"
    var record: UsageRecord
    init(record: UsageRecord) { self.record = record }
    init(from decoder: any Decoder) throws { record = try UsageRecord(from: decoder) }
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}
