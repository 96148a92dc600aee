import Synchronization

/// The messages a running turn took from its lane (`sessions.queue: steer`): the turn answers them with its own,
/// and a cut turn leaves them pending or stopped with it.
final class SteerLog: Sendable {
    private let taken = Mutex<[JournalEntry]>([])

    func add(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        taken.withLock { $0 += entries }
    }

    var entries: [JournalEntry] { taken.withLock { $0 } }
}
