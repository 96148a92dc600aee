import BenchSupport

/// The figures of one run, as printed by the table and the JSON output.
///
/// Memory is in MB of 2^20 bytes (`/proc` reports KiB). Gateway overhead is `total_ms − provider_ms` of each
/// reply that carried both timings.
struct LoadReport: Sendable, Encodable {
    var sessions: Int
    var messages: Int
    var warmupPerSession: Int
    var answered: Int
    var errors: Int
    var errorsByCode: [String: Int]
    var warmupErrors: Int
    var wallSeconds: Double
    var throughputPerSecond: Double
    /// The `--rate` asked for, when paced.
    var offeredRate: Double?
    /// Paced sends that went out more than 10 ms after they were due.
    var lateSends: Int
    var clientLatencyMs: Distribution?
    var gatewayOverheadMs: Distribution?
    var providerMsP50: Double?
    /// Answered messages whose `chat.message` carried both `total_ms` and `provider_ms`.
    var timedReplies: Int
    var peakRSSMB: Double?
    var highWaterRSSMB: Double?

    enum CodingKeys: String, CodingKey {
        case sessions, messages, answered, errors
        case warmupPerSession = "warmup_per_session"
        case errorsByCode = "errors_by_code"
        case warmupErrors = "warmup_errors"
        case wallSeconds = "wall_seconds"
        case throughputPerSecond = "throughput_per_second"
        case offeredRate = "offered_rate_per_second"
        case lateSends = "late_sends"
        case clientLatencyMs = "client_latency_ms"
        case gatewayOverheadMs = "gateway_overhead_ms"
        case providerMsP50 = "provider_ms_p50"
        case timedReplies = "timed_replies"
        case peakRSSMB = "peak_rss_mb"
        case highWaterRSSMB = "vm_hwm_mb"
    }

    /// Every message was answered with `chat.message`.
    var allAnswered: Bool { answered == messages }

    init(result: LoadResult, offeredRate: Double?, warmupPerSession: Int, peakRSSKiB: Int?, highWaterRSSKiB: Int?) {
        let outcomes = result.sessions.flatMap(\.outcomes)
        var replies: [ReplyTiming] = []
        var errorsByCode: [String: Int] = [:]
        for outcome in outcomes {
            switch outcome {
            case .replied(let timing): replies.append(timing)
            case .failed(let code): errorsByCode[code, default: 0] += 1
            }
        }
        let overheads = replies.compactMap { reply in reply.totalMs.flatMap { total in reply.providerMs.map { total - $0 } } }
        let wallSeconds = milliseconds(result.wall) / 1_000

        sessions = result.sessions.count
        messages = outcomes.count
        self.warmupPerSession = warmupPerSession
        answered = replies.count
        errors = outcomes.count - replies.count
        self.errorsByCode = errorsByCode
        warmupErrors = result.sessions.reduce(0) { $0 + $1.warmupFailures }
        self.wallSeconds = wallSeconds
        throughputPerSecond = wallSeconds > 0 ? Double(replies.count) / wallSeconds : 0
        self.offeredRate = offeredRate
        lateSends = result.sessions.reduce(0) { $0 + $1.lateSends }
        clientLatencyMs = Distribution(replies.map(\.clientMs))
        gatewayOverheadMs = Distribution(overheads)
        providerMsP50 = nearestRankPercentile(replies.compactMap(\.providerMs).sorted(), 50)
        timedReplies = overheads.count
        peakRSSMB = peakRSSKiB.map { Double($0) / 1_024 }
        highWaterRSSMB = highWaterRSSKiB.map { Double($0) / 1_024 }
    }
}
