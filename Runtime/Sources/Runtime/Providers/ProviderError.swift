import Foundation

/// Why a model call failed, classified so the router can decide: retry, next model, or give up.
public enum ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The provider answered with an error status; `type` is its own error code when it sent one.
    case http(status: Int, type: String, message: String, retryAfter: Duration?)
    /// A timeout in one phase: `connect`, `first_token`, `idle` or `total`.
    case timeout(phase: String, after: Duration)
    case connection(String)
    /// The provider answered something that is not its documented format.
    case malformed(String)
    /// A stream that ended without its terminal frame.
    case truncated
    /// No provider is configured under that name, or no model at all.
    case notConfigured(String)
    /// Every candidate model failed; the last failure of each, in order.
    case exhausted([Attempt])

    public struct Attempt: Sendable, Equatable {
        public var model: String
        public var error: String
    }

    /// Worth another try at the same model after a pause.
    public var isRetryable: Bool {
        switch self {
        case .http(let status, _, _, _): status == 408 || status == 409 || status == 425 || status == 429 || status >= 500
        case .timeout, .connection, .truncated: true
        case .malformed, .notConfigured, .exhausted: false
        }
    }

    /// Counts against the provider's circuit breaker: faults of the provider, not of the request.
    public var isProviderFault: Bool {
        switch self {
        case .http(let status, _, _, _): status == 429 || status >= 500
        case .timeout, .connection, .truncated, .malformed: true
        case .notConfigured, .exhausted: false
        }
    }

    public var retryAfter: Duration? {
        if case .http(_, _, _, let retryAfter) = self { return retryAfter }
        return nil
    }

    public var description: String {
        switch self {
        case .http(let status, let type, let message, _): "HTTP \(status)\(type.isEmpty ? "" : " \(type)"): \(message)"
        case .timeout(let phase, let after): "timed out waiting \(ConfigValue.format(duration: after)) (\(phase.replacingOccurrences(of: "_", with: " ")))"
        case .connection(let reason): "connection failed: \(reason)"
        case .malformed(let reason): "malformed answer: \(reason)"
        case .truncated: "the stream ended before the answer was complete"
        case .notConfigured(let reason): reason
        case .exhausted(let attempts): attempts.map { "\($0.model): \($0.error)" }.joined(separator: "; ")
        }
    }
}
