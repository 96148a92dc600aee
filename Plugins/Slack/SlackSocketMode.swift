import Foundation
import PluginAPI
import Synchronization

/// Slack Socket Mode: events arrive over WebSocket connections the plugin opens, so the gateway needs no public URL.
///
/// `apps.connections.open`, called with the app-level token (`xapp-…`, scope `connections:write`), hands out a
/// connection URL. Slack says `hello`, then sends each event in an envelope. The plugin acknowledges an envelope once
/// the gateway has journaled its message; one not acknowledged within 3 seconds Slack sends again, and the journal
/// answers a repeat only once. Slack recycles connections: it sends `disconnect` some seconds before it closes one,
/// and the plugin opens the next connection at once while the old one drains, so no event falls between the two.
/// A connection that is lost is replaced after a backoff that grows with each failed attempt.
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

    /// The wait before the next connection: at once after a healthy one, then 1, 2, 4 … 60 seconds while attempts
    /// keep failing, and 5 minutes while Socket Mode is turned off (it comes back by itself when it is turned on).
    static func delay(after ending: Ending, failures: Int) -> Duration {
        switch ending {
        case .healthy: .zero
        case .failed: .seconds(min(60, 1 << min(max(failures - 1, 0), 6)))
        case .disabled: .seconds(300)
        }
    }

    /// What connections tell the loop that keeps one open.
    private enum Signal: Sendable {
        /// Slack will close connection `id` soon: open the next now.
        case replace(Int)
        case ended(Int, Ending)
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
                case .ended(let id, let ending) where id == current:
                    failures = ending == .healthy ? 0 : failures + 1
                    wait = Self.delay(after: ending, failures: failures)
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
            signal.yield(.ended(id, .failed))
            return
        }
        let state = ConnectionState()
        let (draining, drain) = AsyncStream.makeStream(of: Void.self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await context.webSocket.connect(PluginWebSocketRequest(url: address)) { connection in
                        try await self.serve(connection, id: id, state: state, signal: signal, drain: drain)
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
        signal.yield(.ended(id, state.ending))
    }

    /// What a connection learned while it served.
    private final class ConnectionState: Sendable {
        private let value = Mutex((hello: false, disabled: false))

        func saidHello() { value.withLock { $0.hello = true } }
        func disable() { value.withLock { $0.disabled = true } }

        var ending: Ending {
            value.withLock { $0.disabled ? .disabled : $0.hello ? .healthy : .failed }
        }
    }

    /// Reads one connection's frames until it closes; each envelope is handled in its own task, so one slow message
    /// (an attachment to download) does not hold back the acknowledgements of the others.
    private func serve(
        _ connection: PluginWebSocketConnection, id: Int, state: ConnectionState, signal: AsyncStream<Signal>.Continuation,
        drain: AsyncStream<Void>.Continuation
    ) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for try await message in connection.messages {
                guard case .text(let text) = message else { continue }
                switch SlackSocketFrame.read(text, botUserID: await identity.botUserID, token: botToken) {
                case .hello:
                    state.saidHello()
                    context.log(.info, "Slack Socket Mode connected", metadata: ["connection": "\(id)"])
                case .disconnect(let reason) where reason == "link_disabled":
                    state.disable()
                    context.log(
                        .error, "Slack turned Socket Mode off for this app; no events arrive until it is turned on again (or config.mode is events)",
                        metadata: ["connection": "\(id)"])
                    return
                case .disconnect(let reason):
                    context.log(.info, "Slack will close this Socket Mode connection; opening the next", metadata: ["reason": reason, "connection": "\(id)"])
                    signal.yield(.replace(id))
                    drain.yield()
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
