import Foundation
public import Logging
import Synchronization

/// Sends a model request to the configured models in order, with retries, backoff and per-provider
/// circuit breakers, until one answers.
///
/// Safe to call from any task concurrently. Streamed text reaches the observer as it arrives; when an
/// attempt that already streamed text fails, the observer hears `.discarded` before the next attempt
/// starts, so a consumer never glues half of one answer to another.
public final class ModelRouter: Sendable {
    public enum Event: Sendable {
        case started(ModelRef, attempt: Int)
        case text(String)
        /// Text streamed by the attempt that just failed must be thrown away.
        case discarded(ModelRef)
        case finished(ModelRef, attempt: Int, elapsed: Duration, usage: TokenUsage, error: ProviderError?)
    }

    public struct Outcome: Sendable {
        public var reply: ModelReply
        public var model: ModelRef
        /// Time spent inside provider calls, failed attempts included (backoff pauses excluded).
        public var providerTime: Duration
        /// Tokens of every attempt, failed ones included when the provider reported them.
        public var usage: TokenUsage
    }

    public struct ProviderHealth: Sendable, Codable, Equatable {
        public var name: String
        public var kind: String
        public var breaker: String
        public var calls: Int
        public var failures: Int
        public var lastError: String?
        public var lastLatencyMs: Double?
    }

    private struct Stats {
        var calls = 0
        var failures = 0
        var lastError: String?
        var lastLatency: Duration?
    }

    private struct State {
        var providers: [String: any ModelProvider] = [:]
        var transports: [ProviderTransport] = []
        var models: [ModelRef] = []
        var policy = RoutePolicy()
        var breakers: [String: CircuitBreaker] = [:]
        var stats: [String: Stats] = [:]
        var turn = 0
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let logger: Logger

    /// - Parameters:
    ///   - maxConnections: HTTP/1 connections kept per provider host, at least the number of turns that run at once.
    ///   - logger: where failures, retries, failovers and breaker changes are reported.
    public init(maxConnections: Int = 64, logger: Logger = Logger(label: "swiftlet.router", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.maxConnections = maxConnections
        self.logger = logger
    }

    /// Applies `providers.*`, `agent.models`, `agent.strategy` and `router.*`. Providers whose settings did
    /// not change keep their connections; replaced ones are closed at ``shutdown()``.
    public func configure(providers settings: [ProviderSettings], models: [ModelRef], policy: RoutePolicy) {
        state.withLock { state in
            for setting in settings where state.providers[setting.name]?.settings != setting {
                let transport = ProviderTransport.make(timeouts: setting.timeouts, maxConnections: maxConnections)
                state.transports.append(transport)
                state.providers[setting.name] = Self.provider(setting, transport: transport)
            }
            let names = Set(settings.map(\.name))
            state.providers = state.providers.filter { names.contains($0.key) }
            state.models = models
            state.policy = policy
            for name in names {
                var breaker = state.breakers[name] ?? CircuitBreaker(threshold: policy.breakerThreshold, cooldown: policy.breakerCooldown)
                breaker.threshold = policy.breakerThreshold
                breaker.cooldown = policy.breakerCooldown
                state.breakers[name] = breaker
            }
        }
    }

    static func provider(_ settings: ProviderSettings, transport: ProviderTransport) -> any ModelProvider {
        switch settings.kind {
        case .openai: OpenAIProvider(settings: settings, transport: transport)
        case .anthropic: AnthropicProvider(settings: settings, transport: transport)
        case .ollama: OllamaProvider(settings: settings, transport: transport)
        }
    }

    public var models: [ModelRef] { state.withLock { $0.models } }

    /// The context window of the provider behind `ref`, if it is configured.
    public func contextWindow(for ref: ModelRef) -> Int? {
        state.withLock { $0.providers[ref.provider]?.settings.contextWindow }
    }

    /// Why `ref` cannot be used, or nil when its provider is configured.
    public func problem(with ref: ModelRef) -> String? {
        state.withLock { state in
            state.providers[ref.provider] == nil
                ? "no provider named '\(ref.provider)' (configured: \(state.providers.keys.sorted().joined(separator: ", ").ifEmpty("none")))" : nil
        }
    }

    public func health() -> [ProviderHealth] {
        state.withLock { state in
            state.providers.keys.sorted().map { name in
                let stats = state.stats[name] ?? Stats()
                return ProviderHealth(
                    name: name, kind: state.providers[name]?.settings.kind.rawValue ?? "", breaker: state.breakers[name]?.label ?? "closed",
                    calls: stats.calls, failures: stats.failures, lastError: stats.lastError,
                    lastLatencyMs: stats.lastLatency?.milliseconds)
            }
        }
    }

    /// Runs one model call through the plan; `request.model` is replaced per candidate.
    ///
    /// - Parameters:
    ///   - requestID: the message (or API request) the call serves, for the log lines of failures and retries.
    public func complete(
        _ request: ModelRequest,
        override: ModelRef? = nil,
        fallbacks: Bool = true,
        requestID: String = "",
        observer: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        let (plan, policy) = state.withLock { state in
            state.turn &+= 1
            if let override, !fallbacks { return ([override], state.policy) }
            return (RoutePlan.order(models: state.models, strategy: state.policy.strategy, turn: state.turn - 1, override: override), state.policy)
        }
        guard !plan.isEmpty else {
            throw ProviderError.notConfigured("no model is configured: add a provider under providers: and list it in agent.models (see README, Models)")
        }
        var failures: [ProviderError.Attempt] = []
        var providerTime = Duration.zero
        var usage = TokenUsage()
        for (index, ref) in plan.enumerated() {
            let clock = ContinuousClock()
            let provider: (any ModelProvider)? = state.withLock { state in
                guard let provider = state.providers[ref.provider] else { return nil }
                return state.breakers[ref.provider, default: CircuitBreaker(threshold: policy.breakerThreshold, cooldown: policy.breakerCooldown)]
                    .allowsCall(now: clock.now) ? provider : nil
            }
            guard let provider else {
                let error: ProviderError =
                    problem(with: ref).map(ProviderError.notConfigured) ?? .unavailable("circuit breaker open after repeated failures; skipped")
                failures.append(.init(model: ref.description, error: error))
                logger.warning(
                    "model skipped", metadata: ["message_id": "\(requestID)", "provider": "\(ref.provider)", "model": "\(ref.model)", "reason": "\(error)"])
                continue
            }
            var attempt = 1
            var previous: ProviderError?
            while true {
                try Task.checkCancellation()
                await observer(.started(ref, attempt: attempt))
                let streamed = Atomic(false)
                var call = request
                call.model = ref.model
                let start = clock.now
                do {
                    var reply = try await provider.complete(call) { text in
                        streamed.store(true, ordering: .relaxed)
                        await observer(.text(text))
                    }
                    if reply.usage.isEmpty { reply.usage = .estimate(request: call, reply: reply) }
                    let elapsed = clock.now - start
                    providerTime += elapsed
                    usage = usage + reply.usage
                    record(ref, elapsed: elapsed, error: nil, requestID: requestID)
                    await observer(.finished(ref, attempt: attempt, elapsed: elapsed, usage: reply.usage, error: nil))
                    return Outcome(reply: reply, model: ref, providerTime: providerTime, usage: usage)
                } catch let error as ProviderError {
                    // A call cut by cancellation (a /stop, a shutdown) is no failure of the provider.
                    if Task.isCancelled { throw CancellationError() }
                    let elapsed = clock.now - start
                    providerTime += elapsed
                    // The same 5xx twice for the same body: this request breaks the server, retrying it cannot help.
                    let repeated = error.status.map { $0 >= 500 } == true && !error.isOutageStatus && previous.map { error.isSameKind(as: $0) } == true
                    record(ref, elapsed: elapsed, error: error, requestID: requestID)
                    await observer(.finished(ref, attempt: attempt, elapsed: elapsed, usage: TokenUsage(), error: error))
                    if streamed.load(ordering: .relaxed) { await observer(.discarded(ref)) }
                    let mayRetry = state.withLock { state in
                        if case .closed = state.breakers[ref.provider]?.state { return true }
                        return false
                    }
                    var metadata: Logger.Metadata = [
                        "message_id": "\(requestID)", "provider": "\(ref.provider)", "model": "\(ref.model)", "attempt": "\(attempt)",
                        "elapsed_ms": "\(Int(elapsed.milliseconds))", "error": "\(error)",
                    ]
                    if let status = error.status { metadata["status"] = "\(status)" }
                    if !repeated, mayRetry, let delay = RoutePlan.retryDelay(after: error, attempt: attempt, policy: policy, random: Double.random(in: 0..<1)) {
                        metadata["retry_in_ms"] = "\(Int(delay.milliseconds))"
                        logger.warning("model call failed; retrying", metadata: metadata)
                        try await Task.sleep(for: delay)
                        previous = error
                        attempt += 1
                        continue
                    }
                    if repeated { metadata["reason"] = "the same error for the same request: not retried, not counted against the provider" }
                    if index + 1 < plan.count { metadata["next_model"] = "\(plan[index + 1])" }
                    logger.warning(index + 1 < plan.count ? "model call failed; trying the next model" : "model call failed; no model left", metadata: metadata)
                    failures.append(.init(model: ref.description, error: error))
                    break
                }
            }
        }
        throw ProviderError.exhausted(failures)
    }

    private func record(_ ref: ModelRef, elapsed: Duration, error: ProviderError?, requestID: String) {
        let transition = state.withLock { state -> (from: String, to: String)? in
            var stats = state.stats[ref.provider] ?? Stats()
            stats.calls += 1
            stats.lastLatency = elapsed
            let before = state.breakers[ref.provider]?.label
            if let error {
                stats.failures += 1
                stats.lastError = error.description
                if error.isProviderFault { state.breakers[ref.provider]?.recordFailure(now: .now) }
            } else {
                stats.lastError = nil
                state.breakers[ref.provider]?.recordSuccess()
            }
            state.stats[ref.provider] = stats
            let after = state.breakers[ref.provider]?.label
            guard let before, let after, before != after else { return nil }
            return (before, after)
        }
        if let transition {
            logger.notice(
                "circuit breaker \(transition.to == "open" ? "opened" : transition.to == "closed" ? "closed" : transition.to)",
                metadata: ["provider": "\(ref.provider)", "from": "\(transition.from)", "to": "\(transition.to)", "message_id": "\(requestID)"])
        }
    }

    /// Closes every provider connection.
    public func shutdown() async {
        let transports = state.withLock { state in
            defer { state.transports = [] }
            return state.transports
        }
        for transport in transports { await transport.shutdown() }
    }
}
