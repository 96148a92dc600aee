/// When to write a warning that an attack can trigger thousands of times a second: the first occurrence at
/// once, then at most one line per `interval`, each line carrying how many occurrences it stands for.
///
/// When the condition ends, ``flush()`` hands over what was held back, so the last burst is not lost.
///
/// A plain value with no clock of its own; the owner keeps it behind its lock and passes the time in.
///
/// ```swift
/// var throttle = ThrottledWarning(interval: .seconds(10))
/// if let count = throttle.record(at: .now) { logger.warning("refused \(count) connections") }
/// ```
struct ThrottledWarning: Sendable {
    let interval: Duration
    private var lastWritten: ContinuousClock.Instant?
    private var unreported = 0

    init(interval: Duration) {
        self.interval = interval
    }

    /// Counts one occurrence at `now`. Returns the number of occurrences the line written now stands for
    /// (this one and those held back since the last line), or nil when the line is held back.
    mutating func record(at now: ContinuousClock.Instant) -> Int? {
        unreported += 1
        if let lastWritten, now - lastWritten < interval { return nil }
        lastWritten = now
        defer { unreported = 0 }
        return unreported
    }

    /// The occurrences held back since the last line, once the condition has ended, or nil when there are none;
    /// the next occurrence is written at once again.
    mutating func flush() -> Int? {
        defer {
            unreported = 0
            lastWritten = nil
        }
        return unreported > 0 ? unreported : nil
    }
}
