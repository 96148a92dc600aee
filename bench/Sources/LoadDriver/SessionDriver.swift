import HummingbirdWSClient
import Logging

/// One session's share of the run.
struct SessionPlan: Sendable {
    var name: String
    var warmupMessages: Int
    var measuredMessages: Int
    /// Open-loop pacing: message k is due at gate opening + offset + k × interval (nil: each right after the previous reply).
    var pace: Pace?
}

/// A session's share of a fixed offered rate: sessions are staggered so that sends spread evenly over time.
struct Pace: Sendable {
    var offset: Duration
    var interval: Duration

    /// Session `index` of `sessions` sharing `rate` messages per second.
    init(index: Int, sessions: Int, rate: Double) {
        offset = .nanoseconds(Int64(Double(index) / rate * 1e9))
        interval = .nanoseconds(Int64(Double(sessions) / rate * 1e9))
    }
}

/// What a session tells the coordinator before the measured phase starts.
enum SessionProgress: Sendable {
    /// The socket is open and the gateway said hello.
    case connected
    /// Warmup is done; the session waits at the start gate.
    case ready
    /// The session ended before it was ready.
    case failed(SessionFailure)
}

struct SessionFailure: Sendable {
    var session: String
    var reason: String
    /// Whether it got as far as the gateway's hello.
    var connected: Bool
}

/// Drives one session: opens its WebSocket, waits for hello, sends its warmup messages, waits at the start gate,
/// then sends its measured messages one after another, each after the previous one's final event.
struct SessionDriver: Sendable {
    let plan: SessionPlan
    let url: String
    let configuration: WebSocketClientConfiguration
    let replyTimeout: Duration
    let startGate: StartGate
    let progress: AsyncStream<SessionProgress>.Continuation
    let logger: Logger

    private enum Ending: Sendable {
        case closed((any Error)?)
        case timedOut
    }

    func run() async -> SessionResult {
        let lane = LaneRecord(timeout: replyTimeout)
        lane.arm()
        let (endings, end) = AsyncStream.makeStream(of: Ending.self)
        // Unstructured, so that a connection stuck in its upgrade can be left behind: the WebSocket client waits
        // for the upgrade response on a future that ignores cancellation. Every other stage ends when cancelled.
        let connection = Task {
            do {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                    try await converse(inbound: inbound, outbound: outbound, lane: lane)
                }
                end.yield(.closed(nil))
            } catch {
                end.yield(.closed(error))
            }
        }
        let watchdog = Task {
            guard (try? await lane.watch()) != nil else { return }
            end.yield(.timedOut)
        }
        var endingsIterator = endings.makeAsyncIterator()
        var ending = await endingsIterator.next()
        if case .timedOut? = ending {
            connection.cancel()
            // Past the upgrade, cancelling closes the socket's input and the conversation ends at once.
            if !lane.abandonIfConnecting() { ending = await endingsIterator.next() }
        }
        watchdog.cancel()
        end.finish()

        let phase = lane.phase
        if phase != .waitingToStart, phase != .measuring, phase != .done {
            var connectionError: (any Error)?
            if case .closed(let error)? = ending { connectionError = error }
            let reason = failureReason(phase: phase, timedOut: lane.timedOut, error: connectionError)
            progress.yield(.failed(SessionFailure(session: plan.name, reason: reason, connected: phase == .warmingUp)))
        }
        return lane.result(planned: plan.measuredMessages)
    }

    private func failureReason(phase: LaneRecord.Phase, timedOut: Bool, error: (any Error)?) -> String {
        let stage =
            switch phase {
            case .connecting, .abandoned: "opening the WebSocket"
            case .greeting: "waiting for hello"
            default: "warming up"
            }
        if timedOut { return "\(stage): no answer within \(replyTimeout)" }
        if let error { return "\(stage): \(error)" }
        return "\(stage): the gateway closed the connection"
    }

    private func converse(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, lane: LaneRecord) async throws {
        guard lane.beginConversation() else { return }
        var reader = FrameReader(inbound, maxSize: configuration.maxFrameSize)
        var greeted = false
        while !greeted, let frame = try await reader.next() {
            greeted = frame.type == "event" && frame.event == "hello"
        }
        guard greeted else { return }
        lane.enter(.warmingUp)
        progress.yield(.connected)

        var exchange = ChatExchange(outbound: outbound)
        for number in 0..<plan.warmupMessages {
            lane.arm()
            lane.record(try await exchange.send(text(warmup: true, number), reading: &reader))
        }
        lane.enter(.waitingToStart)
        progress.yield(.ready)
        guard await startGate.wait() else { return }

        lane.enter(.measuring)
        let origin = startGate.openedAt ?? .now
        for number in 0..<plan.measuredMessages {
            if let pace = plan.pace {
                // A message is never sent before its predecessor's reply (one ordered lane); a late reply
                // makes the next send late, which the report counts.
                let due = origin + pace.offset + pace.interval * number
                if due > .now { try await Task.sleep(until: due) } else if ContinuousClock.now - due > .milliseconds(10) { lane.noteLateSend() }
            }
            lane.arm()
            lane.record(try await exchange.send(text(warmup: false, number), reading: &reader))
        }
        lane.enter(.done)
    }

    private func text(warmup: Bool, _ number: Int) -> String {
        "\(warmup ? "warmup" : "load") message \(number + 1) from \(plan.name)"
    }
}
