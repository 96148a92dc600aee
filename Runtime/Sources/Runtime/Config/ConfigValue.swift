/// A validated, typed configuration value.
public enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)
    case duration(Duration)
    case list([String])

    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .duration(let value): ConfigValue.format(duration: value)
        case .list(let values): "[" + values.joined(separator: ", ") + "]"
        }
    }

    /// Formats a duration in the largest unit that represents it exactly (`8h`, `90s`, `250ms`).
    static func format(duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let units: [(suffix: String, size: Int64)] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        for unit in units where milliseconds != 0 && milliseconds % unit.size == 0 {
            return "\(milliseconds / unit.size)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }
}

/// A configuration value together with the layer that set it.
public struct ResolvedConfigValue: Sendable, Hashable {
    public var value: ConfigValue
    public var source: ConfigSource
}
