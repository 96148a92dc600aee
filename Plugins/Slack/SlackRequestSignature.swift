import Foundation

/// Slack's request signing: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<timestamp>:<body>")>` with
/// `X-Slack-Request-Timestamp` in Unix seconds, accepted within five minutes of the gateway's clock (a captured
/// request cannot be replayed later).
enum SlackRequestSignature {
    enum Problem: String, Sendable, Equatable {
        case missing = "signature headers missing"
        case stale = "timestamp outside the five-minute window"
        case invalid = "signature does not match"
    }

    static let tolerance: TimeInterval = 300

    /// The text that is signed.
    static func base(timestamp: String, body: Data) -> Data {
        Data("v0:\(timestamp):".utf8) + body
    }

    /// Nil when the request is signed by the holder of the secret; `verify(hex, message)` compares an HMAC in
    /// constant time (the context's `verifyHMACSHA256`).
    static func problem(timestamp: String?, signature: String?, body: Data, now: Date, verify: (String, Data) -> Bool) -> Problem? {
        guard let timestamp, let signature, !timestamp.isEmpty, !signature.isEmpty else { return .missing }
        guard let seconds = TimeInterval(timestamp.trimmingCharacters(in: .whitespaces)), abs(now.timeIntervalSince1970 - seconds) <= tolerance else {
            return .stale
        }
        guard signature.hasPrefix("v0="), verify(String(signature.dropFirst(3)), base(timestamp: timestamp, body: body)) else { return .invalid }
        return nil
    }
}
