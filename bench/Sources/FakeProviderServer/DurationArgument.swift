import ArgumentParser

/// A command-line duration such as `0ms`, `250ms`, `1.5s` or `800us`; a bare number is milliseconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let duration: Duration

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1), ("", 1e-3)]
        guard let unit = units.first(where: { argument.hasSuffix($0.suffix) }),
            let value = Double(argument.dropLast(unit.suffix.count)),
            value >= 0, value.isFinite
        else { return nil }
        self.duration = .nanoseconds(Int64((value * unit.seconds * 1e9).rounded()))
    }

    var defaultValueDescription: String { "\(self.duration)" }
}
