import Foundation

/// One ordered lane per session: a session's messages are answered one turn at a time in arrival order,
/// different sessions run in parallel, at most `limit` turns at once across all lanes.
///
/// A lane gives its slot back after every turn and queues behind the other ready lanes, so one busy session
/// cannot starve the rest. What one turn takes from its lane is decided by ``turnSize(_:limit:)``: one message
/// (`sessions.queue: followup`), or every ordinary message waiting (`collect`); a running turn may also take
/// the messages that arrive meanwhile (``steer(session:)``, `sessions.queue: steer`).
actor SessionLanes {
    /// Runs one turn for the messages it answers, oldest first.
    typealias Work = @Sendable ([JournalEntry]) async -> Void

    private struct Item {
        var entry: JournalEntry
        var work: Work
        var collect: Int
    }

    private var queues: [String: [Item]] = [:]
    private var ready: [String] = []
    private var readySet: Set<String> = []
    private var busy: [String: Task<Void, Never>] = [:]
    /// The ids of the messages the running turn of a session answers (steering adds to them).
    private var turnIDs: [String: [String]] = [:]
    private var idleWaiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var queuedIDs: Set<String> = []
    private var closed = false
    private var holding: Bool
    private let limit: Int

    /// - Parameters:
    ///   - holding: start no turn until ``start()``: at a gateway's start, the messages a crash or a stop left
    ///     pending are queued first, and a new message of the same session must not overtake them.
    init(limit: Int, holding: Bool = false) {
        self.limit = max(1, limit)
        self.holding = holding
    }

    /// Starts turns (after a holding start).
    func start() {
        holding = false
        pump()
    }

    /// Queues `entry` on its session's lane; an entry already queued or running (a resumed one) is ignored.
    ///
    /// - Parameters:
    ///   - collect: how many waiting messages the turn that starts with this one may answer together (1: only it).
    ///   - work: runs the turn.
    func enqueue(_ entry: JournalEntry, collect: Int = 1, work: @escaping Work) {
        guard queuedIDs.insert(entry.id).inserted else { return }
        // In arrival order: a resumed message that is queued after a newer one of its session still goes first.
        var queue = queues[entry.sessionID] ?? []
        let position = queue.lastIndex { $0.entry.receivedAt <= entry.receivedAt }.map { $0 + 1 } ?? 0
        queue.insert(Item(entry: entry, work: work, collect: max(1, collect)), at: position)
        queues[entry.sessionID] = queue
        markReady(entry.sessionID)
        pump()
    }

    /// How many messages at the head of a lane the next turn answers.
    ///
    /// A chat command (`/new`, `/model`, ...) is a turn of its own, and a run of ordinary messages stops before
    /// one, so a command applies exactly between the messages it was sent between.
    static func turnSize(_ waiting: [JournalEntry], limit: Int) -> Int {
        guard let first = waiting.first else { return 0 }
        if ChatCommand.parse(first.text) != nil { return 1 }
        var size = 1
        while size < min(limit, waiting.count), ChatCommand.parse(waiting[size].text) == nil { size += 1 }
        return size
    }

    /// Hands the running turn of `session` the ordinary messages waiting behind it, which it then answers; empty
    /// when none wait, when a command comes first, or when no turn runs.
    func steer(session: String, limit: Int) -> [JournalEntry] {
        guard busy[session] != nil, let queue = queues[session] else { return [] }
        let count = Self.turnSize(queue.map(\.entry), limit: limit)
        guard count > 0, ChatCommand.parse(queue[0].entry.text) == nil else { return [] }
        let taken = queue.prefix(count).map(\.entry)
        queues[session] = count == queue.count ? nil : Array(queue.dropFirst(count))
        turnIDs[session, default: []].append(contentsOf: taken.map(\.id))
        return taken
    }

    /// Cancels the turn running on a session's lane; false when none runs.
    func cancelRunning(session: String) -> Bool {
        guard let task = busy[session] else { return false }
        task.cancel()
        return true
    }

    /// Starts no further turn: waiting messages stay queued (and pending in the journal) for the next start.
    func close() {
        closed = true
        notifyIfIdle()
    }

    func cancelAll() {
        for task in busy.values { task.cancel() }
    }

    var running: Int { busy.count }
    var queued: Int { queues.values.reduce(0) { $0 + $1.count } }

    /// Returns once no turn runs and none is waiting to start (after ``close()``, once no turn runs), or when the
    /// calling task is cancelled.
    func waitUntilIdle() async {
        if isIdle { return }
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Cancelled before the waiter is registered: the handler below found nothing to resume.
                if Task.isCancelled { continuation.resume() } else { idleWaiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.resumeWaiter(id) }
        }
    }

    private func resumeWaiter(_ id: UUID) {
        idleWaiters.removeValue(forKey: id)?.resume()
    }

    private var isIdle: Bool { busy.isEmpty && (closed || ready.isEmpty) }

    private func markReady(_ session: String) {
        guard busy[session] == nil, readySet.insert(session).inserted else { return }
        ready.append(session)
    }

    private func pump() {
        while !closed, !holding, busy.count < limit, !ready.isEmpty {
            let session = ready.removeFirst()
            readySet.remove(session)
            guard let queue = queues[session], !queue.isEmpty else { continue }
            let count = Self.turnSize(queue.map(\.entry), limit: queue[0].collect)
            let items = Array(queue.prefix(count))
            queues[session] = count == queue.count ? nil : Array(queue.dropFirst(count))
            turnIDs[session] = items.map(\.entry.id)
            let entries = items.map(\.entry)
            let work = items[0].work
            busy[session] = Task {
                await work(entries)
                self.finished(session: session)
            }
        }
    }

    private func finished(session: String) {
        busy[session] = nil
        for id in turnIDs.removeValue(forKey: session) ?? [] { queuedIDs.remove(id) }
        if queues[session] != nil { markReady(session) }
        pump()
        notifyIfIdle()
    }

    private func notifyIfIdle() {
        guard isIdle, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters.values
        idleWaiters = [:]
        for waiter in waiters { waiter.resume() }
    }
}
