import Synchronization

/// One session's progress and outcomes, shared between its conversation and its watchdog.
///
/// The conversation arms a deadline before each wait on the gateway; the watchdog reports when one passes so
/// the session can be torn down instead of hanging the run.
final class LaneRecord: Sendable {
    enum Phase: Sendable {
        /// TCP connect and WebSocket upgrade.
        case connecting
        /// Given up while still connecting; a late upgrade must not start the conversation.
        case abandoned
        /// Upgraded, waiting for the gateway's hello.
        case greeting
        case warmingUp, waitingToStart, measuring, done
    }

    private struct State {
        var phase = Phase.connecting
        var deadline: ContinuousClock.Instant?
        var timedOut = false
        var inFlight = false
        var outcomes: [MessageOutcome] = []
        var warmupFailures = 0
        var lastAnswerAt: ContinuousClock.Instant?
        var lateSends = 0
    }

    private let state = Mutex(State())
    private let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    var phase: Phase { state.withLock { $0.phase } }
    var timedOut: Bool { state.withLock { $0.timedOut } }

    /// Moves to `phase`; nothing is awaited from the gateway until the next ``arm()``.
    func enter(_ phase: Phase) {
        state.withLock { state in
            state.phase = phase
            state.deadline = nil
        }
    }

    /// Called when the upgrade completes; false if the session was abandoned meanwhile.
    func beginConversation() -> Bool {
        state.withLock { state in
            guard state.phase == .connecting else { return false }
            state.phase = .greeting
            return true
        }
    }

    /// Gives up on a session still connecting; false if it got past the upgrade first.
    func abandonIfConnecting() -> Bool {
        state.withLock { state in
            guard state.phase == .connecting else { return false }
            state.phase = .abandoned
            return true
        }
    }

    /// Starts the clock on a wait for the gateway (the connection and hello, or one message).
    func arm() {
        state.withLock { state in
            state.deadline = .now + timeout
            state.inFlight = state.phase == .measuring
        }
    }

    /// A paced message went out more than 10 ms after it was due (the previous reply came late).
    func noteLateSend() {
        state.withLock { $0.lateSends += 1 }
    }

    /// Records the answer to the message in flight: a measured outcome, or a warmup failure.
    func record(_ outcome: MessageOutcome) {
        state.withLock { state in
            state.deadline = nil
            state.inFlight = false
            switch state.phase {
            case .measuring:
                state.outcomes.append(outcome)
                state.lastAnswerAt = .now
            default:
                if case .failed = outcome { state.warmupFailures += 1 }
            }
        }
    }

    /// Returns once an armed deadline has passed, having marked the lane timed out; cancel it when the session ends.
    func watch() async throws {
        while true {
            let wake: ContinuousClock.Instant? = state.withLock { state in
                if let deadline = state.deadline, deadline <= .now {
                    state.timedOut = true
                    return nil
                }
                return state.deadline ?? .now + timeout
            }
            guard let wake else { return }
            try await Task.sleep(until: wake)
        }
    }

    /// The measured outcomes, with the message lost in flight and the ones never sent filled in as failures.
    func result(planned: Int) -> SessionResult {
        state.withLock { state in
            var outcomes = state.outcomes
            if state.inFlight {
                outcomes.append(.failed(code: state.timedOut ? DriverErrorCode.timeout : DriverErrorCode.connectionClosed))
            }
            let lost = max(planned - outcomes.count, 0)
            outcomes += repeatElement(.failed(code: DriverErrorCode.notSent), count: lost)
            // A lane cut short was settled when it ended, which is now: the session has just been torn down.
            let settledAt = state.outcomes.count < planned ? .now : state.lastAnswerAt
            return SessionResult(outcomes: outcomes, warmupFailures: state.warmupFailures, settledAt: settledAt, lateSends: state.lateSends)
        }
    }
}

/// What one session reports at the end of the run.
struct SessionResult: Sendable {
    var outcomes: [MessageOutcome]
    var warmupFailures: Int
    /// When its last measured message was answered or given up; nil if it had none.
    var settledAt: ContinuousClock.Instant?
    /// Paced sends that went out more than 10 ms late.
    var lateSends = 0
}
