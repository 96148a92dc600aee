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
/// `submit` returns once the message is durable (journaled; it enters the transcript with its turn); the channel may
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
    private let streamers = Mutex<[String: any StreamingChannel]>([:])
    private let stopped = Atomic(false)
    private let lanes: SessionLanes

    init(store: any GatewayStore, agent: Agent, traces: TraceRecorder, stats: GatewayStats, logger: Logger, configuration: @escaping @Sendable () -> GatewayConfig) {
        self.store = store
        self.agent = agent
        self.traces = traces
        self.stats = stats
        self.logger = logger
        self.configuration = configuration
        self.outbox = OutboxDispatcher(store: store, traces: traces, logger: logger, configuration: { configuration().outbox })
        // Holding until ``resumePending()`` has queued what the last run left, so nothing overtakes it.
        self.lanes = SessionLanes(limit: configuration().sessions.maxConcurrency, holding: true)
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
        switch try await store.journal(entry) {
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
            await lanes.enqueue(entry, collect: config.sessions.turnLimit, work: runTurn)
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
        let stopped = await lanes.stop(session: entry.sessionID) != nil
        await finish([entry], outcome: Agent.gatewayReply(stopped ? "Stopped." : Agent.nothingToStop, for: [entry]))
    }

    /// Resumes every unfinished journal entry, oldest first (after a crash or restart), then starts the lanes.
    func resumePending() async {
        do {
            let pending = try await store.pendingJournal(limit: 100_000)
            if !pending.isEmpty {
                logger.notice("resuming unfinished messages", metadata: ["count": "\(pending.count)"])
                let limit = configuration().sessions.turnLimit
                for entry in pending {
                    traces.record(entry.id, "resumed")
                    await lanes.enqueue(entry, collect: limit, work: runTurn)
                }
            }
        } catch {
            logger.error("cannot read the ingress journal; unfinished messages stay pending", metadata: ["error": "\(error)"])
        }
        await lanes.start()
    }

    /// Runs the turn that answers `entries` (the first names it) and stores its end.
    func runTurn(_ entries: [JournalEntry]) async {
        let turn = entries[0]
        stats.sessionActive(turn.sessionID)
        for entry in entries {
            traces.record(entry.id, "routed", durationMs: Date().timeIntervalSince(entry.receivedAt) * 1000, ["session_id": .string(entry.sessionID)])
            if entry.id != turn.id { traces.record(entry.id, "collected", ["answered_by": .string(turn.id)]) }
        }
        let streamer = streamers.withLock { $0[turn.channel] }
        let sessions = configuration().sessions
        let steered = SteerLog()
        let lanes = self.lanes
        let steer: @Sendable () async -> [JournalEntry] = { [steered] in
            guard sessions.queue == .steer, !Task.isCancelled else { return [] }
            let joined = await lanes.steer(session: turn.sessionID, limit: sessions.collectLimit)
            steered.add(joined)
            return joined
        }
        let outcome: Agent.Outcome
        do {
            outcome = try await agent.respond(to: entries, steer: steer) { event in
                streamer?.stream(event, for: turn)
            }
        } catch {
            if error is CancellationError || Task.isCancelled {
                await cut(entries + steered.entries)
                return
            }
            // Not the model's failure (those are error outcomes) but the gateway's own, such as an unreadable store:
            // answered as an error, so the lane goes on in order and the person knows.
            logger.error("turn failed inside the gateway", metadata: ["message_id": "\(turn.id)", "error": "\(error)"])
            await finish(entries + steered.entries, outcome: Agent.internalFailure(for: entries + steered.entries))
            return
        }
        // An answer that is complete is stored and delivered, even when a shutdown's grace ran out meanwhile; a
        // `/stop` that came first wins (it was answered "Stopped.").
        if Task.isCancelled, await lanes.wasStopped(session: turn.sessionID, turn: turn.id) {
            await cut(entries + steered.entries)
            return
        }
        await finish(entries + steered.entries, outcome: outcome)
    }

    /// A turn cancelled before its answer was complete: by `/stop` (its messages are marked cancelled; the `/stop`
    /// answered) or by a shutdown (they stay pending and are answered at the next start).
    private func cut(_ answered: [JournalEntry]) async {
        let turn = answered[0]
        if await lanes.wasStopped(session: turn.sessionID, turn: turn.id) {
            traces.record(turn.id, "turn.stopped")
            let end = TurnEnd(journalIDs: answered.map(\.id), status: .cancelled, error: "stopped by /stop", transcript: answered.map(Agent.userRecord))
            do {
                // Group commit: not cut by this task's cancellation.
                try await store.finishTurn(end)
            } catch {
                logger.error("cannot record a stopped turn", metadata: ["message_id": "\(turn.id)", "error": "\(error)"])
            }
        } else {
            traces.record(turn.id, "turn.interrupted")
            logger.notice("turn interrupted; its messages stay pending and are answered at the next start", metadata: ["message_id": "\(turn.id)", "messages": "\(answered.count)"])
        }
        stats.turnFinished(totalMs: Date().timeIntervalSince(turn.receivedAt) * 1000, providerMs: 0, failed: true)
    }

    /// Stores the end of a turn that answers `entries` and delivers its reply, to the place the first came from.
    ///
    /// Runs to its end even when the turn is cancelled meanwhile (a shutdown's grace ran out): the store's group
    /// commit and the outbox's delivery chains run in tasks of their own, which the turn's cancellation does not reach,
    /// so a turn whose answer exists is stored and delivered without a task of its own per turn.
    private func finish(_ entries: [JournalEntry], outcome: Agent.Outcome) async {
        let turn = entries[0]
        var also: [String] = []
        for entry in entries.dropFirst() where entry.replyTarget != turn.replyTarget && !also.contains(entry.replyTarget) { also.append(entry.replyTarget) }
        let meta = ReplyMeta(
            receivedAtMs: turn.receivedAt.timeIntervalSince1970 * 1000, providerMs: outcome.providerTime.milliseconds, model: outcome.model, code: outcome.code,
            alsoTargets: also)
        let reply = OutboxEntry(
            messageID: turn.id, sessionID: turn.sessionID, replyMessageID: outcome.kind == .message ? (outcome.transcript.last?.messageID ?? "") : "",
            channel: turn.channel, target: turn.replyTarget, body: outcome.text, kind: outcome.kind, meta: meta.jsonText)
        let end = TurnEnd(journalIDs: entries.map(\.id), status: .done, error: outcome.code, transcript: outcome.transcript, outbox: reply, usage: outcome.usage)
        do {
            try await store.finishTurn(end)
        } catch {
            // The entries stay pending and are resumed at the next start; nothing was sent yet.
            logger.error("cannot store the end of a turn; it will be retried at the next start", metadata: ["message_id": "\(turn.id)", "error": "\(error)"])
            return
        }
        let total = Date().timeIntervalSince(turn.receivedAt) * 1000
        traces.record(turn.id, "reply.queued", durationMs: total, ["kind": .string(outcome.kind.rawValue), "provider_ms": .number(outcome.providerTime.milliseconds)])
        stats.turnFinished(totalMs: total, providerMs: outcome.providerTime.milliseconds, failed: outcome.kind == .error)
        // One line per answered message: its id is what `swiftlet trace` takes.
        logger.info(
            outcome.kind == .error ? "message answered with an error" : "message answered",
            metadata: [
                "message_id": "\(turn.id)", "channel": "\(turn.channel)", "session_key": "\(turn.sessionKey)", "messages": "\(entries.count)",
                "total_ms": "\(Int(total))", "provider_ms": "\(Int(outcome.providerTime.milliseconds))", "code": "\(outcome.code ?? "")",
            ])
        await outbox.deliverNow(reply)
    }

    var laneCounts: (running: Int, queued: Int) {
        get async { (await lanes.running, await lanes.queued) }
    }

    /// Stops taking turns: waits until `deadline` for the running ones, then cancels them (they stay pending and
    /// are answered at the next start) and waits, up to `cutOff` more, until they have ended.
    ///
    /// Messages still waiting in their lanes are not started; they too stay pending.
    func drain(until deadline: ContinuousClock.Instant, cutOff: Duration = .seconds(10)) async {
        let lanes = self.lanes
        await lanes.close()
        if await !Self.waitIdle(lanes, until: deadline) {
            let counts = await laneCounts
            logger.notice(
                "shutdown grace over; cutting running turns (they stay pending)", metadata: ["running": "\(counts.running)", "waiting": "\(counts.queued)"])
            await lanes.cancelAll()
            if await !Self.waitIdle(lanes, until: .now + cutOff) {
                let running = await lanes.running
                logger.error("turns did not end after cancellation; stopping anyway", metadata: ["running": "\(running)"])
            }
        }
    }

    /// Whether no turn runs any more; waits for that until `deadline` (less when the caller is cancelled).
    private static func waitIdle(_ lanes: SessionLanes, until deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await lanes.waitUntilIdle() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
        // Decided by the lanes themselves: under cancellation either child may end first.
        return await lanes.running == 0
    }

    /// Writes what is buffered, once the lanes have drained: waits for the deliveries in flight (up to
    /// `deliveries`), closes the outbox (what is handed over later stays in it for the next start), then writes the
    /// delivery marks and traces, and tells ``waitUntilStopped(upTo:)`` that the pipeline is done with the store.
    func flush(deliveries: Duration = .seconds(5)) async {
        await outbox.waitForDeliveries(until: .now + deliveries)
        outbox.close()
        await outbox.flushSent()
        await traces.flush()
        stopped.store(true, ordering: .releasing)
    }

    /// Returns once ``flush(deliveries:)`` is done, or after `limit`: the store closes after the pipeline's last writes.
    func waitUntilStopped(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !stopped.load(ordering: .acquiring), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
