import Foundation
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

    /// - Parameters:
    ///   - maxConnections: HTTP/1 connections kept per provider host, at least the number of turns that run at once.
    public init(maxConnections: Int = 64) {
        self.maxConnections = maxConnections
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
    public func complete(
        _ request: ModelRequest,
        override: ModelRef? = nil,
        fallbacks: Bool = true,
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
        for ref in plan {
            let clock = ContinuousClock()
            let provider: (any ModelProvider)? = state.withLock { state in
                guard let provider = state.providers[ref.provider] else { return nil }
                return state.breakers[ref.provider, default: CircuitBreaker(threshold: policy.breakerThreshold, cooldown: policy.breakerCooldown)]
                    .allowsCall(now: clock.now) ? provider : nil
            }
            guard let provider else {
                failures.append(.init(model: ref.description, error: problem(with: ref) ?? "circuit breaker open after repeated failures; skipped"))
                continue
            }
            var attempt = 1
            while true {
                try Task.checkCancellation()
                await observer(.started(ref, attempt: attempt))
                let streamed = Atomic(false)
                var call = request
                call.model = ref.model
                let start = clock.now
                do {
                    let reply = try await provider.complete(call) { text in
                        streamed.store(true, ordering: .relaxed)
                        await observer(.text(text))
                    }
                    let elapsed = clock.now - start
                    providerTime += elapsed
                    usage = usage + reply.usage
                    record(ref.provider, elapsed: elapsed, error: nil)
                    await observer(.finished(ref, attempt: attempt, elapsed: elapsed, usage: reply.usage, error: nil))
                    return Outcome(reply: reply, model: ref, providerTime: providerTime, usage: usage)
                } catch let error as ProviderError {
                    let elapsed = clock.now - start
                    providerTime += elapsed
                    record(ref.provider, elapsed: elapsed, error: error)
                    await observer(.finished(ref, attempt: attempt, elapsed: elapsed, usage: TokenUsage(), error: error))
                    if streamed.load(ordering: .relaxed) { await observer(.discarded(ref)) }
                    let mayRetry = state.withLock { state in
                        if case .closed = state.breakers[ref.provider]?.state { return true }
                        return false
                    }
                    if mayRetry, let delay = RoutePlan.retryDelay(after: error, attempt: attempt, policy: policy, random: Double.random(in: 0..<1)) {
                        try await Task.sleep(for: delay)
                        attempt += 1
                        continue
                    }
                    failures.append(.init(model: ref.description, error: error.description))
                    break
                }
            }
        }
        throw ProviderError.exhausted(failures)
    }

    private func record(_ provider: String, elapsed: Duration, error: ProviderError?) {
        state.withLock { state in
            var stats = state.stats[provider] ?? Stats()
            stats.calls += 1
            stats.lastLatency = elapsed
            if let error {
                stats.failures += 1
                stats.lastError = error.description
                if error.isProviderFault { state.breakers[provider]?.recordFailure(now: .now) }
            } else {
                stats.lastError = nil
                state.breakers[provider]?.recordSuccess()
            }
            state.stats[provider] = stats
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
