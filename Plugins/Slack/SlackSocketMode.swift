import Foundation
import PluginAPI
import Synchronization

/// Slack Socket Mode: events arrive over WebSocket connections the plugin opens, so the gateway needs no public URL.
///
/// `apps.connections.open`, called with the app-level token (`xapp-…`, scope `connections:write`), hands out a
/// connection URL. Slack says `hello`, then sends each event in an envelope. The plugin acknowledges an envelope once
/// the gateway has journaled its message; one not acknowledged within 3 seconds Slack sends again, and the journal
/// answers a repeat only once. Envelopes of one Slack conversation are handled one after the other, in the order
/// Slack sent them (a repeat waits for the first copy's outcome); different conversations proceed side by side.
///
/// Slack recycles connections: it sends `disconnect` (`warning`, `refresh_requested`) some seconds before it closes
/// one, and the plugin opens the next connection at once while the old one drains, so no event falls between the
/// two. A connection that is lost is replaced after ``delay(after:failures:retryAfter:)``.
struct SlackSocketMode: Sendable {
    /// `apps.connections.open` with the app-level token.
    let appAPI: SlackWebAPI
    /// Put into inbound attachments, which are downloaded with the bot token.
    let botToken: String
    let identity: SlackIdentity
    let context: any PluginContext

    /// How long a connection Slack said it will close may go on delivering before the plugin closes it.
    static let drainLimit: Duration = .seconds(30)

    /// How a connection ended, which decides when the next one is opened.
    enum Ending: Equatable, Sendable {
        /// It was up (Slack said hello) and then closed or was lost.
        case healthy
        /// No connection came up: the URL could not be had, the handshake failed, or it closed before hello.
        case failed
        /// Slack said `link_disabled`: Socket Mode is off in the app's settings.
        case disabled
    }

    /// The wait before the next connection: 1 s after a healthy one (never a tight loop against a peer that says
    /// hello and hangs up), then 1, 2, 4 … 60 s while attempts keep failing, and 5 minutes while Socket Mode is
    /// turned off (it comes back by itself when it is turned on). Never shorter than a `Retry-After` Slack gave.
    static func delay(after ending: Ending, failures: Int, retryAfter: Duration? = nil) -> Duration {
        let wait: Duration =
            switch ending {
            case .healthy: .seconds(1)
            case .failed: .seconds(min(60, 1 << min(max(failures - 1, 0), 6)))
            case .disabled: .seconds(300)
            }
        return max(wait, retryAfter ?? .zero)
    }

    /// Whether a `disconnect` reason announces a renewal, answered by opening the next connection while this one
    /// drains. Any other reason (`too_many_websockets`, …) closes this connection and backs off.
    static func isRenewal(_ reason: String) -> Bool {
        reason == "warning" || reason == "refresh_requested"
    }

    /// What connections tell the loop that keeps one open.
    private enum Signal: Sendable {
        /// Slack will close connection `id` soon: open the next now.
        case replace(Int)
        case ended(Int, Ending, retryAfter: Duration?)
    }

    /// A fresh connection URL. Throws ``SlackWebAPI/CallError``.
    func openURL() async throws -> String {
        let answer = try await appAPI.call("apps.connections.open", json: [:])
        guard let url = answer["url"] as? String, !url.isEmpty else {
            throw SlackWebAPI.CallError(code: nil, failure: ChannelSendFailure("Slack apps.connections.open answered without a url", retryable: true))
        }
        return url
    }

    /// Keeps a connection open until the task is cancelled; `firstURL` is used for the first one when given.
    func run(firstURL: String?) async {
        let (signals, signal) = AsyncStream.makeStream(of: Signal.self)
        await withDiscardingTaskGroup { group in
            var current = 0
            var failures = 0
            group.addTask { await self.connection(0, url: firstURL, after: .zero, signal: signal) }
            for await event in signals {
                let wait: Duration
                switch event {
                case .replace(let id) where id == current:
                    failures = 0
                    wait = .zero
                case .ended(let id, let ending, let retryAfter) where id == current:
                    failures = ending == .healthy ? 0 : failures + 1
                    wait = Self.delay(after: ending, failures: failures, retryAfter: retryAfter)
                default:
                    // An older connection that was already replaced.
                    continue
                }
                current += 1
                let next = current
                group.addTask { await self.connection(next, url: nil, after: wait, signal: signal) }
            }
            group.cancelAll()
        }
    }

    /// One connection from its URL to its end; says how it ended (or that it should be replaced) through `signal`.
    private func connection(_ id: Int, url: String?, after wait: Duration, signal: AsyncStream<Signal>.Continuation) async {
        if wait > .zero {
            do {
                try await Task.sleep(for: wait)
            } catch {
                return
            }
        }
        let state = ConnectionState(id: id, signal: signal)
        let address: String
        do {
            if let url {
                address = url
            } else {
                address = try await openURL()
            }
        } catch {
            if Task.isCancelled { return }
            context.log(.warning, "Slack Socket Mode: no connection URL", metadata: ["error": "\(error)"])
            let retryAfter = (error as? SlackWebAPI.CallError)?.failure.retryAfterSeconds.map { Duration.milliseconds(Int64($0 * 1000)) }
            state.end(retryAfter: retryAfter)
            return
        }
        let (draining, drain) = AsyncStream.makeStream(of: Void.self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await context.webSocket.connect(PluginWebSocketRequest(url: address)) { connection in
                        try await self.serve(connection, state: state, drain: drain)
                    }
                }
                group.addTask {
                    // Closes a connection Slack announced it will close but still holds open after the drain limit.
                    for await _ in draining {
                        try await Task.sleep(for: Self.drainLimit)
                        throw PluginWebSocketError("the connection was not closed by Slack within \(Self.drainLimit) of its disconnect")
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            if Task.isCancelled { return }
            context.log(.warning, "Slack Socket Mode connection ended", metadata: ["error": "\(error)", "connection": "\(id)"])
        }
        drain.finish()
        if Task.isCancelled { return }
        state.end()
    }

    /// What one connection learned while it served, and its one report to the loop.
    private final class ConnectionState: Sendable {
        let id: Int
        private let signal: AsyncStream<Signal>.Continuation
        private let value = Mutex((hello: false, disabled: false, ended: false))

        init(id: Int, signal: AsyncStream<Signal>.Continuation) {
            self.id = id
            self.signal = signal
        }

        func saidHello() { value.withLock { $0.hello = true } }
        func disable() { value.withLock { $0.disabled = true } }
        func replace() { signal.yield(.replace(id)) }

        /// Reports the end once: as soon as the connection stops delivering, before its last envelopes are done.
        func end(retryAfter: Duration? = nil) {
            let ending = value.withLock { state -> Ending? in
                guard !state.ended else { return nil }
                state.ended = true
                return state.disabled ? .disabled : state.hello ? .healthy : .failed
            }
            if let ending { signal.yield(.ended(id, ending, retryAfter: retryAfter)) }
        }
    }

    /// Reads one connection's frames until it closes. Envelopes are handled in tasks, one ``SerialLanes`` lane per
    /// conversation, so a slow message (an attachment to download) holds back neither other conversations nor the
    /// reading of frames.
    private func serve(_ connection: PluginWebSocketConnection, state: ConnectionState, drain: AsyncStream<Void>.Continuation) async throws {
        let lanes = SerialLanes()
        try await withThrowingDiscardingTaskGroup { group in
            // The next connection opens as soon as this one stops delivering, not after its last envelopes are done.
            defer { if !Task.isCancelled { state.end() } }
            for try await message in connection.messages {
                guard case .text(let text) = message else { continue }
                switch SlackSocketFrame.read(text, botUserID: await identity.botUserID, token: botToken) {
                case .hello:
                    state.saidHello()
                    context.log(.info, "Slack Socket Mode connected", metadata: ["connection": "\(state.id)"])
                case .disconnect(let reason) where reason == "link_disabled":
                    state.disable()
                    context.log(
                        .error, "Slack turned Socket Mode off for this app; no events arrive until it is turned on again (or config.mode is events)",
                        metadata: ["connection": "\(state.id)"])
                    return
                case .disconnect(let reason) where Self.isRenewal(reason):
                    context.log(.info, "Slack will close this Socket Mode connection; opening the next", metadata: ["reason": reason, "connection": "\(state.id)"])
                    state.replace()
                    drain.yield()
                case .disconnect(let reason):
                    context.log(.warning, "Slack asked to close this Socket Mode connection", metadata: ["reason": reason, "connection": "\(state.id)"])
                    return
                case .envelope(let envelopeID, .message(let inbound)):
                    // `<channel>:<ts>`: a conversation's messages, and repeats of one message, share a lane.
                    let conversation = inbound.externalID.map { String($0.prefix { $0 != ":" }) } ?? inbound.peer
                    let handled = await lanes.enqueue(conversation) { await self.handle(.message(inbound), envelope: envelopeID, on: connection) }
                    group.addTask { await handled.value }
                case .envelope(let envelopeID, let decision):
                    group.addTask { await self.handle(decision, envelope: envelopeID, on: connection) }
                case .invalid(let reason):
                    context.log(.warning, "Slack Socket Mode frame not understood", metadata: ["reason": reason])
                }
            }
        }
    }

    /// Hands an envelope's message to the gateway and acknowledges it, or leaves it unacknowledged for Slack to send
    /// again when the gateway could not take it.
    private func handle(_ decision: SlackEventDecision, envelope: String, on connection: PluginWebSocketConnection) async {
        switch decision {
        case .message(let message):
            do {
                try await context.inbound.receive(message)
            } catch {
                context.log(.error, "a Slack message could not be taken; Slack will send it again", metadata: ["error": "\(error)", "envelope": envelope])
                return
            }
        case .ignored(let reason):
            context.log(.debug, "Slack event ignored", metadata: ["reason": reason])
        case .invalid(let reason):
            context.log(.warning, "Slack event not understood", metadata: ["reason": reason])
        case .challenge:
            break
        }
        do {
            try await connection.send(.text(SlackSocketFrame.acknowledgement(envelope)))
        } catch {
            context.log(.warning, "a Slack envelope could not be acknowledged; Slack will send it again", metadata: ["error": "\(error)", "envelope": envelope])
        }
    }
}

/// Work queued per key and run one item after the other for each key, in the order it was queued; keys run side by
/// side. A key's entry is dropped once its last item is done.
actor SerialLanes {
    private var tails: [String: (ticket: Int, task: Task<Void, Never>)] = [:]
    private var tickets = 0

    /// Queues `work` behind the key's earlier items; the returned task ends when `work` has run.
    func enqueue(_ key: String, _ work: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        tickets += 1
        let ticket = tickets
        let previous = tails[key]?.task
        let task = Task {
            await previous?.value
            await work()
            self.finished(key, ticket: ticket)
        }
        tails[key] = (ticket, task)
        return task
    }

    private func finished(_ key: String, ticket: Int) {
        if tails[key]?.ticket == ticket { tails[key] = nil }
    }
}
