import Foundation
import Synchronization

/// Live figures for `swiftlet top` and `/admin/v1/stats`: a sliding minute of finished turns.
public final class GatewayStats: Sendable {
    public struct Snapshot: Sendable, Codable, Equatable {
        public var windowSeconds: Double
        public var messagesPerSecond: Double
        public var totalMessages: Int
        public var failedTurns: Int
        public var latencyP50Ms: Double
        public var latencyP90Ms: Double
        public var latencyP99Ms: Double
        public var overheadP50Ms: Double
        public var overheadP99Ms: Double
        public var activeTurns: Int
        public var queuedMessages: Int
        public var activeSessions: Int
        public var providers: [ModelRouter.ProviderHealth]
    }

    private struct Sample {
        var at: ContinuousClock.Instant
        var totalMs: Double
        var overheadMs: Double
    }

    private struct State {
        var samples: [Sample] = []
        var total = 0
        var failed = 0
        var sessions: [String: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())
    private let window: Duration

    public init(window: Duration = .seconds(60)) {
        self.window = window
    }

    /// A turn of this session starts: it counts as active for the window.
    func sessionActive(_ sessionID: String) {
        state.withLock { $0.sessions[sessionID] = .now }
    }

    func turnFinished(totalMs: Double, providerMs: Double, failed: Bool) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.total += 1
            if failed { state.failed += 1 }
            state.samples.append(Sample(at: now, totalMs: totalMs, overheadMs: max(0, totalMs - providerMs)))
            if state.samples.count > 200_000 || (state.samples.first.map { now - $0.at > window } ?? false) {
                state.samples.removeAll { now - $0.at > window }
            }
        }
    }

    /// - Parameters:
    ///   - running: turns running now and `queued` messages waiting in lanes, as the lanes count them.
    public func snapshot(providers: [ModelRouter.ProviderHealth], running: Int, queued: Int) -> Snapshot {
        let now = ContinuousClock.now
        return state.withLock { state in
            let recent = state.samples.filter { now - $0.at <= window }
            let totals = recent.map(\.totalMs).sorted(), overheads = recent.map(\.overheadMs).sorted()
            let span = recent.first.map { min((now - $0.at).milliseconds / 1000, window.milliseconds / 1000) } ?? 0
            state.sessions = state.sessions.filter { now - $0.value <= window }
            return Snapshot(
                windowSeconds: window.milliseconds / 1000, messagesPerSecond: span > 0 ? Double(recent.count) / max(span, 1) : 0,
                totalMessages: state.total, failedTurns: state.failed,
                latencyP50Ms: Self.percentile(totals, 50), latencyP90Ms: Self.percentile(totals, 90), latencyP99Ms: Self.percentile(totals, 99),
                overheadP50Ms: Self.percentile(overheads, 50), overheadP99Ms: Self.percentile(overheads, 99),
                activeTurns: running, queuedMessages: queued, activeSessions: state.sessions.count, providers: providers)
        }
    }

    /// Nearest-rank percentile of sorted values; 0 for none.
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
