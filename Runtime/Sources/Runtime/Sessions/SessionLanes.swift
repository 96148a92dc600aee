/// One ordered lane per session: a session's messages run one at a time in arrival order, different
/// sessions run in parallel, at most `limit` turns at once across all lanes.
///
/// A lane gives its slot back after every message and queues behind the other ready lanes, so one busy
/// session cannot starve the rest.
actor SessionLanes {
    typealias Work = @Sendable (JournalEntry) async -> Void

    private struct Item {
        var entry: JournalEntry
        var work: Work
    }

    private var queues: [String: [Item]] = [:]
    private var ready: [String] = []
    private var readySet: Set<String> = []
    private var busy: [String: Task<Void, Never>] = [:]
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var queuedIDs: Set<String> = []
    private let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Queues `work` for `entry` on its session's lane; an entry already queued or running (a resumed one)
    /// is ignored.
    func enqueue(_ entry: JournalEntry, work: @escaping Work) {
        guard queuedIDs.insert(entry.id).inserted else { return }
        queues[entry.sessionID, default: []].append(Item(entry: entry, work: work))
        markReady(entry.sessionID)
        pump()
    }

    /// Cancels the turn running on a session's lane; false when none runs.
    func cancelRunning(session: String) -> Bool {
        guard let task = busy[session] else { return false }
        task.cancel()
        return true
    }

    func cancelAll() {
        for task in busy.values { task.cancel() }
    }

    var running: Int { busy.count }
    var queued: Int { queues.values.reduce(0) { $0 + $1.count } }

    /// Returns once no turn runs and none is queued.
    func waitUntilIdle() async {
        if busy.isEmpty && ready.isEmpty { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func markReady(_ session: String) {
        guard busy[session] == nil, readySet.insert(session).inserted else { return }
        ready.append(session)
    }

    private func pump() {
        while busy.count < limit, !ready.isEmpty {
            let session = ready.removeFirst()
            readySet.remove(session)
            guard var queue = queues[session], !queue.isEmpty else { continue }
            let item = queue.removeFirst()
            queues[session] = queue.isEmpty ? nil : queue
            busy[session] = Task {
                await item.work(item.entry)
                self.finished(session: session, entryID: item.entry.id)
            }
        }
    }

    private func finished(session: String, entryID: String) {
        busy[session] = nil
        queuedIDs.remove(entryID)
        if queues[session] != nil { markReady(session) }
        pump()
        if busy.isEmpty && ready.isEmpty {
            let waiters = idleWaiters
            idleWaiters = []
            for waiter in waiters { waiter.resume() }
        }
    }
}
