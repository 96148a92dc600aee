import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being written are committed together in the
/// next one, each in its own savepoint so one failing write does not undo the others.
///
/// Under load many turns end at once; one transaction (one WAL append, one lock) then carries all of
/// them. Every caller is answered only after the transaction holding its write has committed, so a
/// message acknowledged to a channel is as durable as with a transaction of its own.
final class WriteBatcher: Sendable {
    private struct Pending: Sendable {
        /// Runs the write in its savepoint and returns what resumes the caller once the batch commits.
        let run: @Sendable (Database) -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: [Pending] = []
        var draining = false
    }

    private let pool: DatabasePool
    private let state = Mutex(State())
    /// Writes per transaction at most, so one batch never holds the lock for long.
    static let maxBatch = 256

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let pending = Pending(
                run: { db in
                    do {
                        var value: T?
                        try db.inSavepoint {
                            value = try work(db)
                            return .commit
                        }
                        guard let value else { return { continuation.resume(throwing: DatabaseError(message: "savepoint produced no value")) } }
                        return { continuation.resume(returning: value) }
                    } catch {
                        return { continuation.resume(throwing: error) }
                    }
                },
                fail: { continuation.resume(throwing: $0) })
            let startDrain = state.withLock { state -> Bool in
                state.queue.append(pending)
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            // The drain outlives this call on purpose: it serves every write queued behind this one, and its
            // callers are answered through their continuations.
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = Array(state.queue.prefix(Self.maxBatch))
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let resumes = try await pool.write { db in batch.map { $0.run(db) } }
                for resume in resumes { resume() }
            } catch {
                for pending in batch { pending.fail(error) }
            }
        }
    }
}
