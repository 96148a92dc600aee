/// How the router orders and retries models: pure decisions, tested without sockets or clocks.
public struct RoutePolicy: Sendable, Equatable {
    public enum Strategy: String, Sendable { case fallback, roundRobin = "round-robin" }

    public var strategy: Strategy
    public var maxAttempts: Int
    public var backoffBase: Duration
    public var backoffMax: Duration
    public var breakerThreshold: Int
    public var breakerCooldown: Duration

    public init(
        strategy: Strategy = .fallback, maxAttempts: Int = 3, backoffBase: Duration = .milliseconds(500), backoffMax: Duration = .seconds(20),
        breakerThreshold: Int = 5, breakerCooldown: Duration = .seconds(30)
    ) {
        self.strategy = strategy
        self.maxAttempts = maxAttempts
        self.backoffBase = backoffBase
        self.backoffMax = backoffMax
        self.breakerThreshold = breakerThreshold
        self.breakerCooldown = breakerCooldown
    }
}

public enum RoutePlan {
    /// The models to try for one call, in order.
    ///
    /// A session override goes first and the configured models stay behind it as fallbacks; round-robin
    /// rotates the first choice by `turn` and keeps the rest, in their order, as fallbacks.
    public static func order(models: [ModelRef], strategy: RoutePolicy.Strategy, turn: Int, override: ModelRef? = nil) -> [ModelRef] {
        var ordered = models
        if strategy == .roundRobin, !models.isEmpty {
            let start = turn % models.count
            ordered = Array(models[start...] + models[..<start])
        }
        if let override {
            ordered.removeAll { $0 == override }
            ordered.insert(override, at: 0)
        }
        return ordered
    }

    /// The pause before trying the same model again after `error` on attempt `attempt` (1-based), or nil
    /// to move on to the next model.
    ///
    /// Exponential backoff with full jitter (`random` in 0..<1); a Retry-After longer than the computed
    /// delay wins, but one longer than `backoffMax` means "not soon": better to ask another model.
    public static func retryDelay(after error: ProviderError, attempt: Int, policy: RoutePolicy, random: Double) -> Duration? {
        guard error.isRetryable, attempt < policy.maxAttempts else { return nil }
        let exponent = min(attempt - 1, 20)
        let ceiling = min(policy.backoffBase * (1 << exponent), policy.backoffMax)
        let jittered = ceiling * max(0, min(random, 1))
        if let retryAfter = error.retryAfter {
            guard retryAfter <= policy.backoffMax else { return nil }
            return max(retryAfter, jittered)
        }
        return jittered
    }
}

/// A provider's circuit breaker: closed while calls work, open for a cooldown after `threshold`
/// consecutive provider faults, then half-open for one trial call whose outcome closes or re-opens it.
/// A trial that never reports (its caller was cancelled) is replaced by another after one more cooldown.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(since: ContinuousClock.Instant)
    }

    public private(set) var state: State = .closed(failures: 0)
    public var threshold: Int
    public var cooldown: Duration

    public init(threshold: Int, cooldown: Duration) {
        self.threshold = threshold
        self.cooldown = cooldown
    }

    /// Whether a call may go to the provider now; the first call after the cooldown is the trial.
    public mutating func allowsCall(now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let until):
            guard now >= until else { return false }
        case .halfOpen(let since):
            guard now >= since + cooldown else { return false }
        }
        state = .halfOpen(since: now)
        return true
    }

    public mutating func recordSuccess() {
        state = .closed(failures: 0)
    }

    public mutating func recordFailure(now: ContinuousClock.Instant) {
        if case .closed(let failures) = state, failures + 1 < threshold {
            state = .closed(failures: failures + 1)
        } else {
            state = .open(until: now + cooldown)
        }
    }

    /// A word for status displays: closed, open or half-open.
    public var label: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half-open"
        }
    }
}
