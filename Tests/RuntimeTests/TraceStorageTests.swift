import Foundation
import GRDB
import Testing

@testable import Runtime

@Suite("Trace storage: one row per message, hops as JSON lines")
struct TraceStorageTests {
    private func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_795_000_000 + seconds) }

    @Test("hops of several flushes come back in the order recorded, with their durations and details")
    func appendsAcrossFlushes() async throws {
        let store = try SQLiteStore(path: SQLiteStoreTests.temporaryPath())
        try await store.appendTrace([
            TraceEvent(messageID: "m1", hop: "received", at: at(0), detail: ["channel": .string("webchat"), "note": .string("line\nbreak \"quoted\"")]),
            TraceEvent(messageID: "m2", hop: "received", at: at(0.001)),
            TraceEvent(messageID: "m1", hop: "routed", at: at(0.002), durationMs: 0.25),
        ])
        try await store.appendTrace([TraceEvent(messageID: "m1", hop: "reply.sent", at: at(0.010), durationMs: 1.5, detail: ["attempt": .number(1)])])

        let events = try await store.traceEvents(messageID: "m1")
        #expect(events.map(\.hop) == ["received", "routed", "reply.sent"])
        #expect(events.map(\.durationMs) == [nil, 0.25, 1.5])
        // Stored to the millisecond.
        #expect(events.map { ($0.at.timeIntervalSince1970 * 1000).rounded() } == [0, 2, 10].map { 1_795_000_000_000 + $0 })
        #expect(try JSONValue(parsing: events[0].detail) == .object(["channel": .string("webchat"), "note": .string("line\nbreak \"quoted\"")]))
        #expect(try JSONValue(parsing: events[2].detail) == .object(["attempt": .number(1)]))
        #expect(try await store.traceEvents(messageID: "m2").map(\.hop) == ["received"])
        #expect(try await store.traceEvents(messageID: "unknown").isEmpty)
        try await store.close()
    }

    @Test("the v5 migration folds existing per-hop rows into one row per message")
    func migratesPerHopRows() async throws {
        let path = SQLiteStoreTests.temporaryPath()
        let old = try DatabasePool(path: path)
        try SQLiteStore.migrate(old, upTo: "v4_message_path")
        try await old.write { db in
            for (message, hop, at, ms, detail) in [
                ("m1", "routed", "2026-11-20 10:00:00.002", "0.5", "'{\"session_id\":\"s1\"}'"),
                ("m1", "received", "2026-11-20 10:00:00.000", "NULL", "'{\"channel\":\"webchat\"}'"),
                ("m2", "received", "2026-11-20 10:00:01.000", "NULL", "'{}'"),
            ] {
                try db.execute(
                    sql: "INSERT INTO trace_events (message_id, hop, at, duration_ms, detail) VALUES ('\(message)', '\(hop)', '\(at)', \(ms), \(detail))")
            }
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        let events = try await store.traceEvents(messageID: "m1")
        #expect(events.map(\.hop) == ["received", "routed"])
        #expect(events.map(\.durationMs) == [nil, 0.5])
        #expect(try JSONValue(parsing: events[1].detail) == .object(["session_id": .string("s1")]))
        #expect(try await store.traceEvents(messageID: "m2").map(\.hop) == ["received"])
        try await store.close()
        let queue = try DatabaseQueue(path: path)
        #expect(try await queue.read { try $0.tableExists("trace_events") } == false)
        try queue.close()
    }
}
