import Foundation
import GRDB
import Testing

@testable import Runtime

@Suite struct SQLiteStoreTests {
    static func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-store-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("swiftlet.sqlite").path
    }

    @Test func migratesAnEmptyDatabaseInWALMode() async throws {
        let path = Self.temporaryPath()
        let store = try SQLiteStore(path: path)
        #expect(try await store.appliedMigrations() == ["v1_sessions_messages", "v2_control_tokens", "v3_audit_log", "v4_message_path", "v5_message_traces", "v6_plugin_store", "v7_pairing", "v8_turn_transcript"])
        try await store.close()
        let queue = try DatabaseQueue(path: path)
        #expect(try await queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        let columns = try await queue.read { try $0.columns(in: "audit_log").map(\.name) }
        #expect(columns == ["id", "event_type", "user_id", "ip_address", "user_agent", "payload", "created_at"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func migratesAnExistingDatabaseAndKeepsItsRows() async throws {
        let path = Self.temporaryPath()
        let old = try DatabasePool(path: path)
        try SQLiteStore.migrate(old, upTo: "v1_sessions_messages")
        try await old.write { db in
            try db.execute(sql: "INSERT INTO sessions (id, key, channel, peer, created_at, updated_at) VALUES ('s1', 'webchat:main', 'webchat', 'owner', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')")
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        #expect(try await store.appliedMigrations().count == 8)
        let session = try await store.session(key: "webchat:main", channel: "webchat", peer: "owner")
        #expect(session.id == "s1")
        _ = try await store.appendAudit(AuditEvent(eventType: "test"))
        try await store.close()

        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.counts() == StoreCounts(sessions: 1, messages: 0, controlTokens: 0, auditEvents: 1))
        try await reopened.close()
    }

    @Test func refusesADatabaseFromANewerVersion() async throws {
        let path = Self.temporaryPath()
        try await SQLiteStore(path: path).close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99_future')") }
        try queue.close()
        #expect {
            try SQLiteStore(path: path)
        } throws: { error in
            "\(error)".contains("newer swiftlet") && "\(error)".contains("v99_future")
        }
    }

    @Test func storesTranscriptsInOrder() async throws {
        let store = try SQLiteStore(path: Self.temporaryPath())
        let session = try await store.session(key: "k", channel: "webchat", peer: "owner")
        let again = try await store.session(key: "k", channel: "webchat", peer: "owner")
        #expect(session.id == again.id)
        for index in 0..<5 {
            try await store.appendMessage(MessageRecord(messageID: "m\(index)", sessionID: session.id, role: index % 2 == 0 ? .user : .assistant, author: "a", content: "text \(index)"))
        }
        let last3 = try await store.messages(sessionID: session.id, limit: 3)
        #expect(last3.map(\.messageID) == ["m2", "m3", "m4"])
        #expect(try await store.countMessages(sessionID: session.id, role: .user) == 3)
        await #expect(throws: (any Error).self) {
            try await store.appendMessage(MessageRecord(messageID: "m0", sessionID: session.id, role: .user, author: "a", content: "duplicate id"))
        }
        try await store.close()
    }

    @Test func auditEventsFilterByTypeNewestFirst() async throws {
        let store = try SQLiteStore(path: Self.temporaryPath())
        try await store.appendAudit(AuditEvent(eventType: "a", userID: "u", ipAddress: "127.0.0.1", userAgent: "ua", payload: ["k": "v"]))
        try await store.appendAudit(AuditEvent(eventType: "b"))
        try await store.appendAudit(AuditEvent(eventType: "a"))
        let events = try await store.auditEvents(type: "a", limit: 10)
        #expect(events.count == 2)
        #expect(events[0].id! > events[1].id!)
        #expect(events[1].payload == "{\"k\":\"v\"}")
        #expect(events[1].ipAddress == "127.0.0.1")
        try await store.close()
    }

    @Test func unwritableLocationGivesAClearError() {
        #expect {
            try SQLiteStore(path: "/proc/swiftlet-cannot-exist/db.sqlite")
        } throws: { error in
            "\(error)".contains("cannot open the database")
        }
    }

    @Test("v8: a message still pending when the database was written by an older version enters its turn's context once")
    func migrationMovesPendingUserRowsToTheirTurn() async throws {
        let path = Self.temporaryPath()
        let old = try DatabasePool(path: path)
        try SQLiteStore.migrate(old, upTo: "v7_pairing")
        try await old.write { db in
            try db.execute(sql: "INSERT INTO sessions (id, key, channel, peer, created_at, updated_at) VALUES ('s1', 'k', 'c', 'p', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')")
            for (id, status) in [("m1", "done"), ("m2", "pending")] {
                try db.execute(
                    sql: "INSERT INTO ingress_journal (id, channel, session_key, session_id, peer, sender, text, reply_target, status, received_at) VALUES (?, 'c', 'k', 's1', 'p', 'p', ?, 't', ?, '2026-01-01 00:00:00.000')",
                    arguments: [id, id, status])
                try db.execute(
                    sql: "INSERT INTO messages (message_id, session_id, role, author, content, created_at) VALUES (?, 's1', 'user', 'p', ?, '2026-01-01 00:00:00.000')",
                    arguments: [id, id])
            }
        }
        try old.close()
        let store = try SQLiteStore(path: path)
        #expect(try await store.messages(sessionID: "s1", limit: 10).map(\.messageID) == ["m1"], "the pending message is written again with its turn")
        #expect(try await store.pendingJournal(sessionID: "s1").map(\.id) == ["m2"])
        try await store.close()
    }
}
