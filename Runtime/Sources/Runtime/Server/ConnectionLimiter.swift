import Logging
import Synchronization

/// Counts the gateway's open connections and decides whether one more may be served.
///
/// Every connection costs a file descriptor, and so do the database, provider connections, isolated
/// plugins and skill pipes. Without a cap, a crowd of idle sockets under the common soft limit of 1,024
/// leaves no descriptor to accept a `/health` probe or to open the database. A connection over the cap is
/// answered by ``ConnectionRefusalHandler``; the warning about it is written at most once per 10 s, with
/// the number of refusals it stands for, and the first connection admitted afterwards reports the rest.
///
/// Concurrency: ``admit()`` and ``release()`` are called from the child-channel setup and close of every
/// event loop; the count sits behind one mutex.
final class ConnectionLimiter: Sendable {
    /// Descriptors left to the gateway itself when the cap has to be derived from the open-file limit.
    static let reservedFiles = 256

    let cap: Int
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var open = 0
        var refusals = ThrottledWarning(interval: .seconds(10))
        /// True from a refusal to the next admission.
        var refusing = false
    }

    init(cap: Int, logger: Logger) {
        self.cap = cap
        self.logger = logger
    }

    /// The cap in force: `configured`, lowered so that the sockets and ``reservedFiles`` fit under
    /// `openFileLimit` (half of a limit too small to keep the full reserve).
    static func effectiveCap(configured: Int, openFileLimit: UInt64) -> Int {
        let limit = Int(clamping: openFileLimit)
        let available = limit > 2 * reservedFiles ? limit - reservedFiles : limit / 2
        return max(1, min(configured, available))
    }

    /// Counts a new connection in and returns true, or returns false when ``cap`` connections are open.
    /// An admitted connection must be handed back with ``release()`` when it closes.
    func admit() -> Bool {
        let (admitted, report, open) = state.withLock { state -> (Bool, Int?, Int) in
            guard state.open >= cap else {
                state.open += 1
                guard state.refusing else { return (true, nil, state.open) }
                state.refusing = false
                return (true, state.refusals.flush(), state.open)
            }
            state.refusing = true
            return (false, state.refusals.record(at: .now), state.open)
        }
        if let report {
            logger.warning(
                admitted
                    ? "connections admitted again below gateway.max_connections" : "connection refused: the gateway is at gateway.max_connections",
                metadata: ["open": "\(open)", "cap": "\(cap)", "refused_since_last_warning": "\(report)"])
        }
        return admitted
    }

    func release() {
        state.withLock { $0.open -= 1 }
    }

    var openConnections: Int { state.withLock { $0.open } }
}
