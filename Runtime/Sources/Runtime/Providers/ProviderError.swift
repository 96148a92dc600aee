import Foundation

/// Why a model call failed, classified so the router can decide: retry, next model, or give up.
public enum ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The provider answered with an error status; `type` is its own error code when it sent one.
    case http(status: Int, type: String, message: String, retryAfter: Duration?)
    /// The prompt does not fit the model's context window (the server said so, in its status or in its stream).
    case contextOverflow(String)
    /// A timeout in one phase: `connect`, `first_token`, `idle` or `total`.
    case timeout(phase: String, after: Duration)
    /// Nothing listens at the provider's address, or it reset the connection before answering: no point in
    /// waiting for it, the next model is asked at once.
    case refused(String)
    case connection(String)
    /// The provider answered something that is not its documented format.
    case malformed(String)
    /// A stream that ended without its terminal frame.
    case truncated
    /// The provider was skipped without a call: its circuit breaker is open.
    case unavailable(String)
    /// No provider is configured under that name, or no model at all.
    case notConfigured(String)
    /// Every candidate model failed; the last failure of each, in order.
    case exhausted([Attempt])

    public struct Attempt: Sendable, Equatable {
        public var model: String
        public var error: ProviderError

        public init(model: String, error: ProviderError) {
            self.model = model
            self.error = error
        }
    }

    /// Worth another try at the same model after a pause. A 4xx other than 408 and 429 belongs to the request:
    /// sending the same body again gets the same answer.
    public var isRetryable: Bool {
        switch self {
        case .http(let status, _, _, _): status == 408 || status == 429 || status >= 500
        case .timeout, .connection, .truncated: true
        case .refused, .contextOverflow, .malformed, .unavailable, .notConfigured, .exhausted: false
        }
    }

    /// Counts against the provider's circuit breaker: faults of the provider, not of the request.
    ///
    /// A 500 (or another 5xx that does not say "overloaded" or "down") may be one request breaking the server, as
    /// llama.cpp answers a body it cannot template: it is retried once and, repeated, not retried again; it never
    /// opens the breaker for everybody else. Outage statuses, rate limits and refused credentials do.
    public var isProviderFault: Bool {
        switch self {
        case .http(let status, _, _, _): status == 401 || status == 403 || status == 429 || isOutageStatus
        case .timeout, .refused, .connection, .truncated, .malformed: true
        case .contextOverflow, .unavailable, .notConfigured, .exhausted: false
        }
    }

    /// A 5xx that says "overloaded" or "down" rather than "this request broke me": always the provider's fault,
    /// even when it repeats.
    var isOutageStatus: Bool {
        if case .http(let status, _, _, _) = self { return status == 502 || status == 503 || status == 504 || status == 529 }
        return false
    }

    public var retryAfter: Duration? {
        if case .http(_, _, _, let retryAfter) = self { return retryAfter }
        return nil
    }

    /// The HTTP status, when the provider answered with one.
    public var status: Int? {
        if case .http(let status, _, _, _) = self { return status }
        return nil
    }

    /// Whether an error answer says the prompt does not fit the model's context, in the words the common servers
    /// use: OpenAI and vLLM (`context_length_exceeded`, "maximum context length"), llama.cpp
    /// (`exceed_context_size_error`, "exceed context window"), Anthropic ("prompt is too long").
    static func isContextOverflow(status: Int, code: String, message: String) -> Bool {
        guard status == 400 || status == 413 || status >= 500 else { return false }
        if code == "context_length_exceeded" || code == "exceed_context_size_error" { return true }
        let text = message.lowercased()
        return ["maximum context length", "context window", "exceed context", "exceeds the available context", "prompt is too long", "context length exceeded"]
            .contains { text.contains($0) }
    }

    /// The same status and error type (messages may carry a request id that differs every time).
    func isSameKind(as other: ProviderError) -> Bool {
        if case .http(let status, let type, _, _) = self, case .http(let otherStatus, let otherType, _, _) = other {
            return status == otherStatus && type == otherType
        }
        return false
    }

    /// A stream that broke before saying anything: the server may tell why when asked without streaming.
    var mayHideTheReason: Bool {
        switch self {
        case .truncated, .connection: true
        default: false
        }
    }

    /// Every failure in it: the attempts of an exhausted call, or itself.
    public var failures: [ProviderError] {
        if case .exhausted(let attempts) = self { return attempts.map(\.error) }
        return [self]
    }

    public var description: String {
        switch self {
        case .http(let status, let type, let message, _): "HTTP \(status)\(type.isEmpty ? "" : " \(type)"): \(message)"
        case .contextOverflow(let message): "the prompt is larger than the model's context: \(message)"
        case .timeout(let phase, let after): "timed out waiting \(ConfigValue.format(duration: after)) (\(phase.replacingOccurrences(of: "_", with: " ")))"
        case .refused(let reason): "connection refused: \(reason)"
        case .connection(let reason): "connection failed: \(reason)"
        case .malformed(let reason): "malformed answer: \(reason)"
        case .truncated: "the stream ended before the answer was complete"
        case .unavailable(let reason): reason
        case .notConfigured(let reason): reason
        case .exhausted(let attempts): attempts.map { "\($0.model): \($0.error)" }.joined(separator: "; ")
        }
    }

    /// One short clause for the person who sent the message; the full description goes to the log and the trace.
    public var summary: String {
        let all = failures
        if all.contains(where: { if case .contextOverflow = $0 { true } else { false } }) {
            return "the conversation is too long for the model's context"
        }
        guard let first = all.first else { return "no model could answer" }
        let clause: String =
            switch first {
            case .http(let status, _, _, _) where status == 429: "the model provider is rate-limiting requests"
            case .http(let status, _, _, _) where status == 401 || status == 403: "the model provider refused the gateway's credentials"
            case .http(let status, _, _, _) where status >= 500: "the model server failed (HTTP \(status))"
            case .http(let status, _, _, _): "the model server rejected the request (HTTP \(status))"
            case .timeout: "the model did not answer in time"
            case .refused, .connection: "the model server could not be reached"
            case .malformed: "the model server sent an answer the gateway could not read"
            case .truncated: "the model's answer broke off"
            case .unavailable: "the model is paused after repeated failures"
            case .contextOverflow: "the conversation is too long for the model's context"
            case .notConfigured(let reason): reason
            case .exhausted: "no model could answer"
            }
        return all.count > 1 ? "none of the \(all.count) models could answer (first: \(clause))" : clause
    }
}
