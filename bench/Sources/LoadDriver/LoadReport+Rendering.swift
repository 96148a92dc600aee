import BenchSupport
import Foundation

extension LoadReport {
    /// One JSON object with sorted keys; absent figures are left out.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A table for people.
    func table() -> String {
        var lines = [
            "swiftlet-load: \(messages) messages over \(sessions) sessions, \(warmupPerSession) warmup each",
            row("answered", "\(answered)"),
            row("errors", errors == 0 ? "0" : "\(errors) (\(codes(errorsByCode)))"),
        ]
        if warmupErrors > 0 { lines.append(row("warmup errors", "\(warmupErrors) (not counted)")) }
        lines += [
            row("wall time", "\(format(wallSeconds, digits: 3)) s"),
            row("throughput", "\(format(throughputPerSecond, digits: 1)) messages/s"),
        ]
        if let offeredRate {
            lines.append(row("offered rate", "\(format(offeredRate, digits: 1)) messages/s (open loop), \(lateSends) sends > 10 ms late"))
        }
        lines += [
            "",
            row("ms", "p50", "p90", "p99", "max"),
            distributionRow("client latency", clientLatencyMs),
            distributionRow("gateway overhead", gatewayOverheadMs),
            row("provider", providerMsP50.map { format($0) } ?? "-", "", "", ""),
        ]
        if timedReplies < answered {
            lines.append("(gateway timings on \(timedReplies) of \(answered) replies)")
        }
        lines += [
            "",
            row("gateway peak RSS", peakRSSMB.map { "\(format($0, digits: 1)) MB" } ?? "not sampled"),
            row("gateway VmHWM", highWaterRSSMB.map { "\(format($0, digits: 1)) MB" } ?? "-"),
        ]
        return lines.joined(separator: "\n")
    }

    private func distributionRow(_ label: String, _ distribution: Distribution?) -> String {
        guard let distribution else { return row(label, "-", "-", "-", "-") }
        return row(label, format(distribution.p50), format(distribution.p90), format(distribution.p99), format(distribution.max))
    }

    private func row(_ label: String, _ values: String...) -> String {
        let padded = label.padding(toLength: 18, withPad: " ", startingAt: 0)
        guard values.count > 1 else { return padded + (values.first ?? "") }
        var line = padded + values.map { String(repeating: " ", count: max(10 - $0.count, 1)) + $0 }.joined()
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }

    private func codes(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    private func format(_ value: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f", value)
    }
}
