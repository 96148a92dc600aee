import Foundation
import Logging
import Synchronization

/// Delivers outbox entries through their channel, retrying with backoff, never two deliveries of one
/// entry at a time.
///
/// A fresh reply is delivered at once (`deliverNow`); the retry loop picks up failed deliveries and
/// anything a crash left behind. Successful deliveries are marked sent in batches; until then their ids
/// stay in flight, so the retry loop cannot pick them up a second time.
///
/// The deliveries of one session run one after another in the order they were handed over, so a chat gets its
/// replies in the order its turns ended, also after a restart, when the replies a crash left undelivered are
/// handed over before the first new turn ends. A failed delivery does not hold back the ones behind it (it is
/// retried on its own schedule): one reply a platform refuses must not silence the chat.
final class OutboxDispatcher: Sendable {
    /// The last delivery handed over for a session, which the next one waits for.
    private struct Link {
        var id: Int
        var task: Task<Void, Never>
    }

    private let store: any GatewayStore
    private let traces: TraceRecorder
    private let logger: Logger
    private let configuration: @Sendable () -> GatewayConfig.Outbox
    private let senders = Mutex<[String: any ChannelSender]>([:])
    private let inFlight = Mutex<Set<String>>([])
    private let sent = Mutex<[(id: String, at: Date)]>([])
    private let chains = Mutex<(next: Int, links: [String: Link])>((0, [:]))
    private let closed = Atomic(false)

    init(store: any GatewayStore, traces: TraceRecorder, logger: Logger, configuration: @escaping @Sendable () -> GatewayConfig.Outbox) {
        self.store = store
        self.traces = traces
        self.logger = logger
        self.configuration = configuration
    }

    func register(_ sender: any ChannelSender) {
        senders.withLock { $0[sender.channel] = sender }
    }

    func unregister(channel: String) {
        _ = senders.withLock { $0.removeValue(forKey: channel) }
    }

    /// Delivers `entry` after the deliveries of its session handed over before it; returns once it was tried.
    func deliverNow(_ entry: OutboxEntry) async {
        guard !closed.load(ordering: .acquiring), inFlight.withLock({ $0.insert(entry.id).inserted }) else { return }
        await chained(entry).value
    }

    /// Delivers what is due, oldest first, each session in order and sessions side by side; returns how many entries
    /// were handed over.
    ///
    /// - Parameter waiting: whether to return only once they were tried; at start the gateway hands them over and
    ///   goes on, and a session's new replies queue behind them.
    @discardableResult
    func deliverDue(now: Date = Date(), waiting: Bool = true) async -> Int {
        guard !closed.load(ordering: .acquiring) else { return 0 }
        let due: [OutboxEntry]
        do {
            due = try await store.dueOutbox(now: now, limit: 256)
        } catch {
            logger.error("outbox read failed", metadata: ["error": "\(error)"])
            return 0
        }
        var handedOver: [Task<Void, Never>] = []
        for entry in due where inFlight.withLock({ $0.insert(entry.id).inserted }) {
            handedOver.append(chained(entry))
        }
        if waiting {
            for task in handedOver { await task.value }
        }
        return handedOver.count
    }

    /// Takes no delivery any more: what is handed over from now on stays in the outbox, pending, for the next start
    /// (the shutdown flushes the marks of what was delivered, and nothing may be delivered without one).
    func close() {
        closed.store(true, ordering: .releasing)
    }

    /// Waits until every delivery handed over so far was tried, or until `deadline` (a delivery cannot be cut from
    /// here; past the deadline the gateway stops without waiting for it, and its reply goes out after the restart).
    func waitForDeliveries(until deadline: ContinuousClock.Instant) async {
        while chains.withLock({ !$0.links.isEmpty }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Hands `entry` to its session's chain: it is tried once the delivery handed over before it was.
    private func chained(_ entry: OutboxEntry) -> Task<Void, Never> {
        chains.withLock { chains in
            let id = chains.next
            chains.next += 1
            let key = Self.chainKey(entry)
            let previous = chains.links[key]?.task
            let task = Task {
                await previous?.value
                await self.attempt(entry)
                self.unlink(key: key, id: id)
            }
            chains.links[key] = Link(id: id, task: task)
            return task
        }
    }

    private func unlink(key: String, id: Int) {
        chains.withLock { chains in
            if chains.links[key]?.id == id { chains.links[key] = nil }
        }
    }

    /// What orders deliveries: the session, or for a notice (which belongs to no session) the place it goes to, so
    /// one slow platform does not hold up every other person's notices.
    static func chainKey(_ entry: OutboxEntry) -> String {
        entry.sessionID.isEmpty ? "notice:\(entry.channel):\(entry.target)" : entry.sessionID
    }

    /// Writes the batch of successful deliveries.
    func flushSent() async {
        let batch = sent.withLock { sent in
            defer { sent.removeAll(keepingCapacity: true) }
            return sent
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.markOutboxSent(batch)
            inFlight.withLock { inFlight in
                for item in batch { inFlight.remove(item.id) }
            }
        } catch {
            // Still in flight, so they are not sent twice; the marks are tried again at the next flush.
            sent.withLock { $0.insert(contentsOf: batch, at: 0) }
            logger.error("marking deliveries sent failed; will retry", metadata: ["error": "\(error)", "count": "\(batch.count)"])
        }
    }

    private func attempt(_ entry: OutboxEntry) async {
        guard let sender = senders.withLock({ $0[entry.channel] }) else {
            await failed(entry, error: "no channel named '\(entry.channel)' is running", permanent: false)
            return
        }
        do {
            try await sender.deliver(entry)
            let now = Date()
            traces.record(entry.messageID, "reply.sent", durationMs: now.timeIntervalSince(entry.createdAt) * 1000, ["channel": .string(entry.channel), "attempt": .number(Double(entry.attempts + 1))])
            sent.withLock { $0.append((entry.id, now)) }
        } catch let error as PermanentDeliveryError {
            await failed(entry, error: error.description, permanent: true)
        } catch let error as DeliveryDeferred {
            await failed(entry, error: error.description, permanent: false, retryAfter: error.retryAfter)
        } catch {
            await failed(entry, error: "\(error)", permanent: false)
        }
    }

    private func failed(_ entry: OutboxEntry, error: String, permanent: Bool, retryAfter: Double? = nil) async {
        let config = configuration()
        let attempts = entry.attempts + 1
        let giveUp = permanent || attempts >= config.maxAttempts
        // The platform's own retry-after wins when longer (capped at an hour: a nonsense value must not park a reply).
        let delay = max(min(config.retryBase.milliseconds / 1000 * pow(2, Double(attempts - 1)), 300), min(retryAfter ?? 0, 3600))
        let retryAt = giveUp ? nil : Date().addingTimeInterval(delay)
        traces.record(entry.messageID, giveUp ? "reply.failed" : "reply.retry", ["channel": .string(entry.channel), "attempt": .number(Double(attempts)), "error": .string(error)])
        logger.warning(
            giveUp ? "reply delivery failed for good" : "reply delivery failed; will retry",
            metadata: ["message_id": "\(entry.messageID)", "channel": "\(entry.channel)", "attempt": "\(attempts)", "error": "\(error)"])
        do {
            try await store.markOutboxFailed(id: entry.id, error: error, retryAt: retryAt)
        } catch {
            logger.error("outbox update failed", metadata: ["error": "\(error)"])
        }
        inFlight.withLock { _ = $0.remove(entry.id) }
    }
}
