import Synchronization

/// A one-shot barrier: sessions wait at it until the coordinator opens it for all of them at once.
///
/// Opening it with `proceed: false` calls the run off; every waiter, present or later, gets `false`.
final class StartGate: Sendable {
    private struct State {
        var decision: Bool?
        var openedAt: ContinuousClock.Instant?
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits until the gate opens; returns whether to go on.
    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let decision = state.withLock { state in
                if state.decision == nil { state.waiters.append(continuation) }
                return state.decision
            }
            if let decision { continuation.resume(returning: decision) }
        }
    }

    /// When the gate opened to let the run proceed: the common origin of paced schedules.
    var openedAt: ContinuousClock.Instant? { state.withLock { $0.openedAt } }

    /// Releases every waiter; only the first call decides.
    func open(proceed: Bool) {
        let (waiters, decision) = state.withLock { state in
            let decision = state.decision ?? proceed
            let waiters = state.waiters
            if state.decision == nil, proceed { state.openedAt = .now }
            state.decision = decision
            state.waiters = []
            return (waiters, decision)
        }
        for waiter in waiters { waiter.resume(returning: decision) }
    }
}
