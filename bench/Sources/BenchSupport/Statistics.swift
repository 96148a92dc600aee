/// The nearest-rank percentile of values sorted in ascending order.
///
/// The result is the smallest value such that at least `percent` % of the values are at or below it: the value at
/// 1-based rank ⌈percent / 100 × count⌉, clamped to the first and last value. It is always one of the inputs,
/// never an interpolation.
///
/// ```swift
/// nearestRankPercentile([1, 2, 3, 4], 50)  // 2
/// nearestRankPercentile([1, 2, 3, 4], 90)  // 4
/// ```
public func nearestRankPercentile(_ sorted: [Double], _ percent: Double) -> Double? {
    guard !sorted.isEmpty else { return nil }
    // percent × count is exact for integer percents, so an exact multiple of 100 is not pushed up a rank.
    let rank = Int((percent * Double(sorted.count) / 100).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// p50, p90, p99 and max of a sample, by nearest rank.
public struct Distribution: Sendable, Equatable, Encodable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    /// Nil for an empty sample.
    public init?(_ values: [Double]) {
        let sorted = values.sorted()
        guard let p50 = nearestRankPercentile(sorted, 50), let p90 = nearestRankPercentile(sorted, 90),
            let p99 = nearestRankPercentile(sorted, 99), let max = sorted.last
        else { return nil }
        self.count = sorted.count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }
}
