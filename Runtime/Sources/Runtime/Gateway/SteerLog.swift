import Synchronization

/// The messages a running turn took from its lane (`sessions.queue: steer`), so a cancelled turn can account for them.
final class SteerLog: Sendable {
    private let taken = Mutex<[JournalEntry]>([])

    func add(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        taken.withLock { $0 += entries }
    }

    var entries: [JournalEntry] { taken.withLock { $0 } }
}
