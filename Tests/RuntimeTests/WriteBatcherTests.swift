import Foundation
import GRDB
import Testing

@testable import Runtime

/// Group commit: concurrent writes share transactions, a failing one undoes only itself.
@Suite struct WriteBatcherTests {
    struct Refused: Error {}

    @Test func concurrentWritesAllCommitExceptTheOneThatFails() async throws {
        let pool = try DatabasePool(path: SQLiteStoreTests.temporaryPath())
        try await pool.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY)") }
        let batcher = WriteBatcher(pool: pool)
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<200 {
                group.addTask {
                    do {
                        try await batcher.write { db in
                            try db.execute(sql: "INSERT INTO t (n) VALUES (?)", arguments: [n])
                            if n == 7 { throw Refused() }  // after its insert: the savepoint must undo it
                        }
                        return (n, true)
                    } catch {
                        return (n, false)
                    }
                }
            }
            var all: [Int: Bool] = [:]
            for await (n, ok) in group { all[n] = ok }
            return all
        }
        #expect(results.filter { !$0.value }.map(\.key) == [7])
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY n") }
        #expect(stored == Array(0..<200).filter { $0 != 7 })
        try pool.close()
    }

    @Test func aValueComesBackAfterTheCommit() async throws {
        let pool = try DatabasePool(path: SQLiteStoreTests.temporaryPath())
        try await pool.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY)") }
        let batcher = WriteBatcher(pool: pool)
        let id = try await batcher.write { db -> Int64 in
            try db.execute(sql: "INSERT INTO t (n) VALUES (41)")
            return db.lastInsertedRowID
        }
        #expect(id == 41)
        // Visible to a fresh reader once the call returned: the write was committed, not merely queued.
        #expect(try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") } == 1)
        try pool.close()
    }
}
