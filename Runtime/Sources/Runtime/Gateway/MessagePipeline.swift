import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A message from any channel, before it is journaled.
public struct InboundMessage: Sendable {
    public var origin: MessageOrigin
    /// Who wrote it (display id), for the transcript.
    public var sender: String
    public var text: String
    /// The platform's message id, for redelivery detection; nil when the channel has none.
    public var externalID: String?
    /// Where the reply goes, in the channel's terms.
    public var replyTarget: String

    public init(origin: MessageOrigin, sender: String, text: String, externalID: String? = nil, replyTarget: String) {
        self.origin = origin
        self.sender = sender
        self.text = text
        self.externalID = externalID
        self.replyTarget = replyTarget
    }
}

/// The one path every message takes: ingress journal → session lane → agent turn → outbox.
///
/// `submit` returns once the message is durable (journaled, and in the transcript); the channel may
/// acknowledge it then. Everything after survives a crash: unfinished journal entries are resumed at the
/// next start, and a finished turn's reply sits in the outbox in the same transaction that marks the
/// entry done, so a message is answered exactly once.
public final class MessagePipeline: Sendable {
    public enum Submission: Sendable, Equatable {
        case accepted(messageID: String, sessionID: String)
        case duplicate(messageID: String, sessionID: String)
    }

    let store: any GatewayStore
    let agent: Agent
    let traces: TraceRecorder
    let stats: GatewayStats
    let outbox: OutboxDispatcher
    let logger: Logger
    private let configuration: @Sendable () -> GatewayConfig
    private let sessionIDs = Mutex<[String: String]>([:])
    private let stopRequests = Mutex<Set<String>>([])
    private let streamers = Mutex<[String: any StreamingChannel]>([:])
    private let lanes: SessionLanes

    init(store: any GatewayStore, agent: Agent, traces: TraceRecorder, stats: GatewayStats, logger: Logger, configuration: @escaping @Sendable () -> GatewayConfig) {
        self.store = store
        self.agent = agent
        self.traces = traces
        self.stats = stats
        self.logger = logger
        self.configuration = configuration
        self.outbox = OutboxDispatcher(store: store, traces: traces, logger: logger, configuration: { configuration().outbox })
        self.lanes = SessionLanes(limit: configuration().sessions.maxConcurrency)
    }

    public func register(_ channel: any ChannelSender) {
        outbox.register(channel)
        if let streaming = channel as? any StreamingChannel {
            streamers.withLock { $0[streaming.channel] = streaming }
        }
    }

    /// Stops routing replies and previews to `channel` (a stopped channel plugin); its replies wait in the outbox.
    func unregister(channel: String) {
        outbox.unregister(channel: channel)
        streamers.withLock { $0[channel] = nil }
    }

    /// Journals a message and queues its turn. Throws only when the store cannot take it, in which case
    /// the channel must not acknowledge the message.
    public func submit(_ inbound: InboundMessage) async throws -> Submission {
        let config = configuration()
        let key = SessionKey.make(inbound.origin, scope: config.sessions.dmScope)
        let sessionID = try await session(key: key, origin: inbound.origin)
        if config.sessions.reset.idle > .zero || config.sessions.reset.dailyHour >= 0 {
            try await applyResetPolicy(sessionID: sessionID, key: key, policy: config.sessions.reset)
        }
        let id = UUID().uuidString.lowercased()
        let now = Date()
        let entry = JournalEntry(
            id: id, channel: inbound.origin.channel, externalID: inbound.externalID, sessionKey: key, sessionID: sessionID, peer: inbound.origin.peer,
            sender: inbound.sender, text: inbound.text, replyTarget: inbound.replyTarget, receivedAt: now)
        let user = MessageRecord(messageID: id, sessionID: sessionID, role: .user, author: inbound.sender, content: inbound.text, createdAt: now)
        switch try await store.journal(entry, userMessage: user) {
        case .duplicate(let first):
            traces.record(first.id, "duplicate", ["external_id": .string(inbound.externalID ?? "")])
            return .duplicate(messageID: first.id, sessionID: first.sessionID)
        case .accepted:
            break
        }
        traces.record(id, "received", ["channel": .string(entry.channel), "session_key": .string(key), "bytes": .number(Double(inbound.text.utf8.count))])
        if ChatCommand.parse(inbound.text) == .stop {
            await stop(entry)
        } else {
            await lanes.enqueue(entry, work: runTurn)
        }
        return .accepted(messageID: id, sessionID: sessionID)
    }

    /// Sends a gateway notice that answers no turn (a pairing code, a rate-limit notice) through the outbox, so it
    /// is durable and retried like a reply.
    public func notify(channel: String, target: String, text: String) async throws {
        let entry = OutboxEntry(
            messageID: "notice-" + UUID().uuidString.lowercased(), sessionID: "", replyMessageID: "", channel: channel, target: target, body: text, kind: .message)
        try await store.enqueueOutbox(entry)
        traces.record(entry.messageID, "notice.queued", ["channel": .string(channel)])
        await outbox.deliverNow(entry)
    }

    /// The session id for a key, from memory after the first message.
    func session(key: String, origin: MessageOrigin) async throws -> String {
        if let known = sessionIDs.withLock({ $0[key] }) { return known }
        let record = try await store.session(key: key, channel: origin.channel, peer: origin.group ?? origin.peer)
        sessionIDs.withLock { $0[key] = record.id }
        return record.id
    }

    private func applyResetPolicy(sessionID: String, key: String, policy: ResetPolicy) async throws {
        var state = try await store.sessionState(sessionID: sessionID)
        let lastRow = try await store.lastMessageRowID(sessionID: sessionID)
        guard lastRow > state.contextStart, policy.shouldReset(lastActivity: state.lastActivity, lastReset: state.lastResetAt, now: Date()) else { return }
        state.startFresh(after: lastRow)
        try await store.updateSessionState(sessionID: sessionID, state)
        logger.info("session reset by policy", metadata: ["session_key": "\(key)"])
    }

    /// `/stop` does not wait in its lane: it cancels the turn running there and is answered at once.
    private func stop(_ entry: JournalEntry) async {
        stopRequests.withLock { _ = $0.insert(entry.sessionID) }
        let cancelled = await lanes.cancelRunning(session: entry.sessionID)
        if !cancelled { stopRequests.withLock { _ = $0.remove(entry.sessionID) } }
        await finish(entry, outcome: Agent.gatewayReply(cancelled ? "Stopped." : Agent.nothingToStop, for: entry))
    }

    /// Resumes every unfinished journal entry, oldest first (after a crash or restart).
    func resumePending() async {
        do {
            let pending = try await store.pendingJournal(limit: 100_000)
            guard !pending.isEmpty else { return }
            logger.notice("resuming unfinished messages", metadata: ["count": "\(pending.count)"])
            for entry in pending {
                traces.record(entry.id, "resumed")
                await lanes.enqueue(entry, work: runTurn)
            }
        } catch {
            logger.error("cannot read the ingress journal; unfinished messages stay pending", metadata: ["error": "\(error)"])
        }
    }

    func runTurn(_ entry: JournalEntry) async {
        stats.sessionActive(entry.sessionID)
        traces.record(entry.id, "routed", durationMs: Date().timeIntervalSince(entry.receivedAt) * 1000, ["session_id": .string(entry.sessionID)])
        let streamer = streamers.withLock { $0[entry.channel] }
        do {
            let outcome = try await agent.respond(to: entry) { event in
                streamer?.stream(event, for: entry)
            }
            try Task.checkCancellation()
            await finish(entry, outcome: outcome)
        } catch {
            // Cancelled: by /stop (answered by the /stop itself) or by shutdown (left pending, resumed later).
            let stopped = stopRequests.withLock { $0.remove(entry.sessionID) != nil }
            if stopped {
                traces.record(entry.id, "turn.stopped")
                // This task is cancelled and the store refuses work from cancelled tasks: write from a fresh one.
                let store = self.store
                do {
                    try await Task {
                        try await store.finishTurn(journalID: entry.id, status: .cancelled, error: "stopped by /stop", transcript: [], outbox: nil, usage: [])
                    }.value
                } catch {
                    logger.error("cannot record a stopped turn", metadata: ["message_id": "\(entry.id)", "error": "\(error)"])
                }
            } else {
                traces.record(entry.id, "turn.interrupted")
            }
            stats.turnFinished(totalMs: Date().timeIntervalSince(entry.receivedAt) * 1000, providerMs: 0, failed: true)
        }
    }

    private func finish(_ entry: JournalEntry, outcome: Agent.Outcome) async {
        let meta = ReplyMeta(
            receivedAtMs: entry.receivedAt.timeIntervalSince1970 * 1000, providerMs: outcome.providerTime.milliseconds, model: outcome.model, code: outcome.code)
        let reply = OutboxEntry(
            messageID: entry.id, sessionID: entry.sessionID, replyMessageID: outcome.kind == .message ? (outcome.transcript.last?.messageID ?? "") : "",
            channel: entry.channel, target: entry.replyTarget, body: outcome.text, kind: outcome.kind, meta: meta.jsonText)
        do {
            try await store.finishTurn(journalID: entry.id, status: .done, error: outcome.code, transcript: outcome.transcript, outbox: reply, usage: outcome.usage)
        } catch {
            // The entry stays pending and is resumed at the next start; nothing was sent yet.
            logger.error("cannot store the end of a turn; it will be retried at the next start", metadata: ["message_id": "\(entry.id)", "error": "\(error)"])
            return
        }
        let total = Date().timeIntervalSince(entry.receivedAt) * 1000
        traces.record(entry.id, "reply.queued", durationMs: total, ["kind": .string(outcome.kind.rawValue), "provider_ms": .number(outcome.providerTime.milliseconds)])
        stats.turnFinished(totalMs: total, providerMs: outcome.providerTime.milliseconds, failed: outcome.kind == .error)
        await outbox.deliverNow(reply)
    }

    var laneCounts: (running: Int, queued: Int) {
        get async { (await lanes.running, await lanes.queued) }
    }

    /// Stops taking turns: waits up to `grace` for running ones, then cancels them (they stay pending).
    func drain(grace: Duration) async {
        let lanes = self.lanes
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await lanes.waitUntilIdle() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
        await lanes.cancelAll()
    }
}

/// Runs the pipeline's background work: resume at start, outbox retries, batched trace and delivery writes.
struct MessagePipelineService: Service {
    let pipeline: MessagePipeline
    let grace: Duration

    func run() async throws {
        await pipeline.resumePending()
        await cancelWhenGracefulShutdown {
            var tick = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                // Shutting down: the store refuses writes from this cancelled task; the final flush below writes.
                if Task.isCancelled { break }
                await pipeline.traces.flush()
                await pipeline.outbox.flushSent()
                tick += 1
                if tick % 10 == 0 { await pipeline.outbox.deliverDue() }
            }
        }
        await pipeline.drain(grace: grace)
        await pipeline.outbox.flushSent()
        await pipeline.traces.flush()
    }
}
