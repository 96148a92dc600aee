import Foundation

/// The time facts of one answer: when it was made and how long the request has taken.
struct FakeStamp: Sendable {
    /// Unix seconds (OpenAI `created`).
    var created: Int
    /// RFC 3339 UTC time with fractional seconds (Ollama `created_at`).
    var createdAt: String
    /// Time since the request arrived (Ollama durations).
    var elapsed: Duration

    static func now(since arrival: ContinuousClock.Instant) -> FakeStamp {
        let date = Date()
        return FakeStamp(
            created: Int(date.timeIntervalSince1970),
            createdAt: date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            elapsed: ContinuousClock.now - arrival
        )
    }

    /// Nanoseconds, as Ollama reports durations.
    var elapsedNanoseconds: Int64 {
        let (seconds, attoseconds) = self.elapsed.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
