import Testing

@testable import Runtime

private let a = ModelRef(provider: "openai", model: "a")
private let b = ModelRef(provider: "anthropic", model: "b")
private let c = ModelRef(provider: "local", model: "c")
private let x = ModelRef(provider: "openai", model: "x")

@Suite struct RoutePlanOrderTests {
    @Test func fallbackKeepsTheConfiguredOrderWhateverTheTurn() {
        for turn in [0, 1, 2, 7] {
            #expect(RoutePlan.order(models: [a, b, c], strategy: .fallback, turn: turn) == [a, b, c])
        }
    }

    @Test(arguments: [(0, [a, b, c]), (1, [b, c, a]), (2, [c, a, b]), (3, [a, b, c]), (4, [b, c, a])])
    func roundRobinRotatesTheFirstChoiceByTurn(turn: Int, expected: [ModelRef]) {
        #expect(RoutePlan.order(models: [a, b, c], strategy: .roundRobin, turn: turn) == expected)
    }

    @Test func overrideGoesFirstAndIsNotRepeated() {
        #expect(RoutePlan.order(models: [a, b, c], strategy: .fallback, turn: 0, override: b) == [b, a, c])
        #expect(RoutePlan.order(models: [a, b, c], strategy: .fallback, turn: 0, override: x) == [x, a, b, c])
    }

    @Test func overrideBeatsRoundRobinAndTheRotatedRestFollows() {
        #expect(RoutePlan.order(models: [a, b, c], strategy: .roundRobin, turn: 1, override: c) == [c, b, a])
    }

    @Test func noModelsLeavesOnlyTheOverride() {
        #expect(RoutePlan.order(models: [], strategy: .roundRobin, turn: 3) == [])
        #expect(RoutePlan.order(models: [], strategy: .roundRobin, turn: 3, override: x) == [x])
    }
}

@Suite struct RoutePlanRetryTests {
    private let policy = RoutePolicy(maxAttempts: 10, backoffBase: .seconds(1), backoffMax: .seconds(20))
    private let overloaded = ProviderError.http(status: 529, type: "overloaded_error", message: "", retryAfter: nil)

    private func rateLimited(after retryAfter: Duration) -> ProviderError {
        .http(status: 429, type: "", message: "", retryAfter: retryAfter)
    }

    @Test func nonRetryableErrorsMoveOnAtOnce() {
        let badRequest = ProviderError.http(status: 400, type: "", message: "", retryAfter: .seconds(1))
        #expect(RoutePlan.retryDelay(after: badRequest, attempt: 1, policy: policy, random: 1) == nil)
        #expect(RoutePlan.retryDelay(after: .malformed("x"), attempt: 1, policy: policy, random: 1) == nil)
    }

    @Test func noDelayOnceTheLastAttemptFailed() {
        let three = RoutePolicy(maxAttempts: 3, backoffBase: .seconds(1), backoffMax: .seconds(20))
        #expect(RoutePlan.retryDelay(after: overloaded, attempt: 2, policy: three, random: 1) == .seconds(2))
        #expect(RoutePlan.retryDelay(after: overloaded, attempt: 3, policy: three, random: 1) == nil)
        let one = RoutePolicy(maxAttempts: 1)
        #expect(RoutePlan.retryDelay(after: .truncated, attempt: 1, policy: one, random: 1) == nil)
    }

    @Test(arguments: [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 20), (9, 20)])
    func ceilingDoublesPerAttemptUpToTheMaximum(attempt: Int, seconds: Int) {
        #expect(RoutePlan.retryDelay(after: overloaded, attempt: attempt, policy: policy, random: 1) == .seconds(seconds))
    }

    @Test func jitterScalesTheCeiling() {
        #expect(RoutePlan.retryDelay(after: overloaded, attempt: 4, policy: policy, random: 0) == .zero)
        #expect(RoutePlan.retryDelay(after: overloaded, attempt: 3, policy: policy, random: 0.5) == .seconds(2))
        #expect(RoutePlan.retryDelay(after: .timeout(phase: "idle", after: .seconds(30)), attempt: 1, policy: policy, random: 0.25) == .milliseconds(250))
    }

    @Test func defaultPolicyStartsAtHalfASecond() {
        #expect(RoutePlan.retryDelay(after: .truncated, attempt: 1, policy: RoutePolicy(), random: 1) == .milliseconds(500))
    }

    @Test func retryAfterWinsWhenLonger() {
        #expect(RoutePlan.retryDelay(after: rateLimited(after: .seconds(5)), attempt: 1, policy: policy, random: 1) == .seconds(5))
        #expect(RoutePlan.retryDelay(after: rateLimited(after: .seconds(5)), attempt: 1, policy: policy, random: 0) == .seconds(5))
    }

    @Test func computedDelayWinsWhenLongerThanRetryAfter() {
        #expect(RoutePlan.retryDelay(after: rateLimited(after: .seconds(1)), attempt: 3, policy: policy, random: 1) == .seconds(4))
    }

    @Test func retryAfterBeyondTheMaximumMovesOn() {
        #expect(RoutePlan.retryDelay(after: rateLimited(after: .seconds(21)), attempt: 1, policy: policy, random: 1) == nil)
        #expect(RoutePlan.retryDelay(after: rateLimited(after: .seconds(20)), attempt: 1, policy: policy, random: 1) == .seconds(20))
    }
}

@Suite struct CircuitBreakerTests {
    private let start = ContinuousClock.now

    private func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    /// A breaker (threshold 3, cooldown 30s) opened by three failures at `start`.
    private func opened() -> CircuitBreaker {
        var breaker = CircuitBreaker(threshold: 3, cooldown: .seconds(30))
        for _ in 0..<3 { breaker.recordFailure(now: at(0)) }
        return breaker
    }

    /// Asks the breaker at each of `seconds` in turn, as the router would.
    private func decisions(_ breaker: inout CircuitBreaker, at seconds: [Int]) -> [Bool] {
        seconds.map { breaker.allowsCall(now: at($0)) }
    }

    @Test func staysClosedBelowTheThreshold() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: .seconds(30))
        breaker.recordFailure(now: at(0))
        breaker.recordFailure(now: at(1))
        #expect(breaker.state == .closed(failures: 2))
        #expect(breaker.label == "closed")
        let allowed = decisions(&breaker, at: [2, 3])
        #expect(allowed == [true, true])
    }

    @Test func opensAfterThresholdConsecutiveFailures() {
        let breaker = opened()
        #expect(breaker.state == .open(until: at(30)))
        #expect(breaker.label == "open")
    }

    @Test func successResetsTheConsecutiveCount() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: .seconds(30))
        breaker.recordFailure(now: at(0))
        breaker.recordFailure(now: at(0))
        breaker.recordSuccess()
        breaker.recordFailure(now: at(0))
        breaker.recordFailure(now: at(0))
        #expect(breaker.state == .closed(failures: 2))
    }

    @Test func thresholdOfOneOpensOnTheFirstFailure() {
        var breaker = CircuitBreaker(threshold: 1, cooldown: .seconds(5))
        breaker.recordFailure(now: at(0))
        #expect(breaker.state == .open(until: at(5)))
    }

    @Test func refusesUntilTheCooldownEnds() {
        var breaker = opened()
        let allowed = decisions(&breaker, at: [0, 1, 29])
        #expect(allowed == [false, false, false])
        #expect(breaker.state == .open(until: at(30)))
    }

    @Test func halfOpenAllowsExactlyOneTrial() {
        var breaker = opened()
        let first = decisions(&breaker, at: [30])
        #expect(first == [true])
        #expect(breaker.state == .halfOpen(since: at(30)))
        #expect(breaker.label == "half-open")
        let more = decisions(&breaker, at: [30, 31, 45, 59])
        #expect(more == [false, false, false, false])
    }

    @Test func successfulTrialCloses() {
        var breaker = opened()
        _ = breaker.allowsCall(now: at(30))
        breaker.recordSuccess()
        #expect(breaker.state == .closed(failures: 0))
        let allowed = decisions(&breaker, at: [31, 32])
        #expect(allowed == [true, true])
    }

    @Test func failedTrialReopensForAnotherCooldown() {
        var breaker = opened()
        _ = breaker.allowsCall(now: at(30))
        breaker.recordFailure(now: at(32))
        #expect(breaker.state == .open(until: at(62)))
        let allowed = decisions(&breaker, at: [61, 62])
        #expect(allowed == [false, true])
    }

    @Test func stuckTrialIsReplacedAfterAnotherCooldown() {
        var breaker = opened()
        let allowed = decisions(&breaker, at: [30, 59, 60])
        #expect(allowed == [true, false, true])
        #expect(breaker.state == .halfOpen(since: at(60)))
        let after = decisions(&breaker, at: [61])
        #expect(after == [false])
    }
}
