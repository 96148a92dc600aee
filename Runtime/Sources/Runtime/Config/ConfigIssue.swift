/// One problem found while loading configuration, located precisely enough to fix it.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    public var source: ConfigSource
    /// Dotted key path such as `gateway.port`; empty when the problem concerns a whole file.
    public var keyPath: String
    public var message: String

    public init(source: ConfigSource, keyPath: String, message: String) {
        self.source = source
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        keyPath.isEmpty ? "\(source): \(message)" : "\(source): \(keyPath): \(message)"
    }
}

/// Thrown when a configuration cannot be used; carries every issue found, not only the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(_ issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String {
        let count = issues.count == 1 ? "1 configuration error" : "\(issues.count) configuration errors"
        return ([count + ":"] + issues.map { "  " + $0.description }).joined(separator: "\n")
    }
}
