import BenchSupport
import Foundation

/// The figures of one run. Times are milliseconds; memory is MB of 2^20 bytes.
struct ChannelLoadReport: Encodable {
    var messages: Int
    var answered: Int
    var webhookErrors: Int
    var offeredRate: Double
    /// Messages per second the driver actually offered (it may fall behind on a loaded machine).
    var sentRate: Double
    /// Replies per second over the whole run (first POST to last reply).
    var answeredRate: Double
    var webhookMs: Distribution?
    var endToEndMs: Distribution?
    var providerMs: Distribution?
    var gatewayOverheadMs: Distribution?
    var gatewayCPUSeconds: Double
    var peakRSSMB: Double?
    var highWaterRSSMB: Double?

    var allAnswered: Bool { answered == messages && webhookErrors == 0 }

    init(
        measured: [MessageTimings.Entry], firstIndex: Int, providerMs provider: [Int: Double], offeredRate: Double, sendSeconds: Double, elapsedSeconds: Double, gatewayCPUSeconds: Double,
        peakRSSKiB: Int?, highWaterRSSKiB: Int?
    ) {
        messages = measured.count
        answered = measured.filter { $0.arrivedMs != nil }.count
        webhookErrors = measured.filter { $0.status != 200 }.count
        self.offeredRate = offeredRate
        sentRate = Double(messages) / max(sendSeconds, 0.001)
        answeredRate = Double(answered) / max(elapsedSeconds, 0.001)
        webhookMs = Distribution(measured.compactMap { entry in entry.acknowledgedMs.flatMap { ack in entry.postedMs.map { ack - $0 } } })
        var endToEnd: [Double] = []
        var providers: [Double] = []
        var overheads: [Double] = []
        for (offset, entry) in measured.enumerated() {
            guard let posted = entry.postedMs, let arrived = entry.arrivedMs else { continue }
            endToEnd.append(arrived - posted)
            // Message indices continue after the warm-up ones.
            if let waited = provider[firstIndex + offset] {
                providers.append(waited)
                overheads.append(arrived - posted - waited)
            }
        }
        endToEndMs = Distribution(endToEnd)
        providerMs = Distribution(providers)
        gatewayOverheadMs = Distribution(overheads)
        self.gatewayCPUSeconds = gatewayCPUSeconds
        peakRSSMB = peakRSSKiB.map { Double($0) / 1024 }
        highWaterRSSMB = highWaterRSSKiB.map { Double($0) / 1024 }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        func row(_ label: String, _ distribution: Distribution?) -> String {
            guard let distribution else { return "\(label)  -" }
            return String(format: "%@  p50 %8.2f  p90 %8.2f  p99 %8.2f  max %8.2f", label, distribution.p50, distribution.p90, distribution.p99, distribution.max)
        }
        var lines = [
            "messages \(messages), answered \(answered), webhook errors \(webhookErrors)",
            String(format: "offered %.0f msg/s, sent %.0f msg/s, answered %.0f msg/s", offeredRate, sentRate, answeredRate),
            row("webhook (POST → 200, ms)        ", webhookMs),
            row("end to end (POST → reply, ms)   ", endToEndMs),
            row("provider (recorded, ms)         ", providerMs),
            row("gateway overhead (e2e − provider)", gatewayOverheadMs),
            String(format: "gateway CPU %.2f s", gatewayCPUSeconds),
        ]
        if let peakRSSMB { lines.append(String(format: "gateway peak RSS %.1f MB (sampled), high water %.1f MB", peakRSSMB, highWaterRSSMB ?? 0)) }
        return lines.joined(separator: "\n")
    }
}
