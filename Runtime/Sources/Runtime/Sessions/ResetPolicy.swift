public import Foundation

/// When a session starts fresh on its own (`sessions.idle_reset`, `sessions.daily_reset_hour`).
public struct ResetPolicy: Sendable, Equatable {
    /// Zero: never.
    public var idle: Duration
    /// -1: never; otherwise the local hour (0-23) at which a new day's session begins.
    public var dailyHour: Int

    public init(idle: Duration = .zero, dailyHour: Int = -1) {
        self.idle = idle
        self.dailyHour = dailyHour
    }

    /// Whether the next message, arriving at `now`, starts a fresh context.
    ///
    /// - Parameters:
    ///   - lastActivity: the newest message of the session, nil for an empty one.
    ///   - lastReset: the last reset, so one daily boundary resets once.
    public func shouldReset(lastActivity: Date?, lastReset: Date?, now: Date, calendar: Calendar = .current) -> Bool {
        guard let lastActivity else { return false }
        if idle > .zero {
            if now.timeIntervalSince(lastActivity) * 1000 >= idle.milliseconds { return true }
        }
        if dailyHour >= 0, let boundary = Self.latestBoundary(before: now, hour: dailyHour, calendar: calendar) {
            let since = max(lastActivity, lastReset ?? .distantPast)
            if since < boundary { return true }
        }
        return false
    }

    /// The most recent instant at `hour`:00 local time that is not after `now`.
    static func latestBoundary(before now: Date, hour: Int, calendar: Calendar) -> Date? {
        guard let today = calendar.date(bySettingHour: hour, minute: 0, second: 0, of: now) else { return nil }
        return today <= now ? today : calendar.date(byAdding: .day, value: -1, to: today)
    }
}
