/// What `GET /admin/v1/trace/{id}` returns and `swiftlet trace` prints.
public struct TraceReport: Sendable, Codable {
    public var message: JournalEntry
    public var events: [TraceEvent]
    public var reply: OutboxEntry?
}
