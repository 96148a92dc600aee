import DequeModule

/// One ordered lane per session: a session's messages are answered one turn at a time in arrival order,
/// different sessions run in parallel, at most `limit` turns at once across all lanes.
///
/// A lane gives its slot back after every turn and queues behind the other ready lanes, so one busy session
/// cannot starve the rest. What one turn takes from its lane is decided by ``turnSize(_:limit:)``: one message
/// (`sessions.queue: followup`), or every ordinary message waiting (`collect`); a running turn may also take
/// the messages that arrive meanwhile (``steer(session:limit:)``, `sessions.queue: steer`).
///
/// The lanes also keep which turns a `/stop` cut (``stop(session:)``, ``wasStopped(session:turn:)``), so a turn's state about
/// its own ending lives here with the turn, not in a flag per session that could outlive it.
actor SessionLanes {
    /// Runs one turn for the messages it answers, oldest first.
    typealias Work = @Sendable ([JournalEntry]) async -> Void

    private struct Item {
        var entry: JournalEntry
        var work: Work
        var collect: Int
    }

    /// The turn running on a lane: its task, and the ids of the messages it answers (steering adds to them).
    private struct Running {
        var task: Task<Void, Never>
        var ids: [String]
        var stopped = false
    }

    private var queues: [String: Deque<Item>] = [:]
    private var ready: Deque<String> = []
    private var readySet: Set<String> = []
    private var busy: [String: Running] = [:]
    private var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0
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
        let item = Item(entry: entry, work: work, collect: max(1, collect))
        // In arrival order: a resumed message that is queued after a newer one of its session still goes first.
        if let last = queues[entry.sessionID]?.last, last.entry.receivedAt > entry.receivedAt {
            let position = queues[entry.sessionID]!.lastIndex { $0.entry.receivedAt <= entry.receivedAt }.map { $0 + 1 } ?? 0
            queues[entry.sessionID]!.insert(item, at: position)
        } else {
            queues[entry.sessionID, default: []].append(item)
        }
        markReady(entry.sessionID)
        pump()
    }

    /// How many messages at the head of a lane the next turn answers.
    ///
    /// A chat command (`/new`, `/model`, ...) is a turn of its own, and a run of ordinary messages stops before
    /// one, so a command applies exactly between the messages it was sent between.
    static func turnSize(_ waiting: some Collection<JournalEntry>, limit: Int) -> Int {
        var size = 0
        for entry in waiting.prefix(max(1, limit)) {
            if ChatCommand.parse(entry.text) != nil { return size == 0 ? 1 : size }
            size += 1
        }
        return size
    }

    /// Hands the running turn of `session` the ordinary messages waiting behind it, which it then answers; empty
    /// when none wait, when a command comes first, when no turn runs, or when it was cut (`/stop`, shutdown).
    func steer(session: String, limit: Int) -> [JournalEntry] {
        guard !closed, let running = busy[session], !running.task.isCancelled, let queue = queues[session] else { return [] }
        let count = Self.turnSize(queue.lazy.map(\.entry), limit: limit)
        guard count > 0, ChatCommand.parse(queue[queue.startIndex].entry.text) == nil else { return [] }
        let taken = queue.prefix(count).map(\.entry)
        queues[session]!.removeFirst(count)
        if queues[session]!.isEmpty { queues[session] = nil }
        busy[session]!.ids.append(contentsOf: taken.map(\.id))
        return taken
    }

    /// `/stop`: cancels the turn running on a session's lane and notes that it was stopped; returns its first
    /// message's id, nil when none runs.
    func stop(session: String) -> String? {
        guard let running = busy[session] else { return nil }
        busy[session]!.stopped = true
        running.task.cancel()
        return running.ids.first
    }

    /// Whether the turn running on `session` and named by `turnID` (its first message) was cut by `/stop` rather
    /// than by a shutdown.
    func wasStopped(session: String, turn turnID: String) -> Bool {
        guard let running = busy[session] else { return false }
        return running.stopped && running.ids.first == turnID
    }

    /// Starts no further turn: waiting messages stay queued (and pending in the journal) for the next start.
    func close() {
        closed = true
        notifyIfIdle()
    }

    func cancelAll() {
        for running in busy.values { running.task.cancel() }
    }

    var running: Int { busy.count }
    var queued: Int { queues.values.reduce(0) { $0 + $1.count } }

    /// Returns once no turn runs and none is waiting to start (after ``close()``, once no turn runs), or when the
    /// calling task is cancelled.
    func waitUntilIdle() async {
        if isIdle { return }
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Cancelled before the waiter is registered: the handler below found nothing to resume.
                if Task.isCancelled { continuation.resume() } else { idleWaiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.resumeWaiter(id) }
        }
    }

    private func resumeWaiter(_ id: Int) {
        idleWaiters.removeValue(forKey: id)?.resume()
    }

    private var isIdle: Bool { busy.isEmpty && (closed || ready.isEmpty) }

    private func markReady(_ session: String) {
        guard busy[session] == nil, readySet.insert(session).inserted else { return }
        ready.append(session)
    }

    private func pump() {
        while !closed, !holding, busy.count < limit, let session = ready.popFirst() {
            readySet.remove(session)
            guard let queue = queues[session], let head = queue.first else { continue }
            let count = Self.turnSize(queue.lazy.map(\.entry), limit: head.collect)
            let entries = queue.prefix(count).map(\.entry)
            queues[session]!.removeFirst(count)
            if queues[session]!.isEmpty { queues[session] = nil }
            let work = head.work
            let task = Task {
                await work(entries)
                self.finished(session: session)
            }
            busy[session] = Running(task: task, ids: entries.map(\.id))
        }
    }

    private func finished(session: String) {
        for id in busy.removeValue(forKey: session)?.ids ?? [] { queuedIDs.remove(id) }
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
