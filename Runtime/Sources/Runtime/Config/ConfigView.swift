/// The rows of `swiftlet config show`: every key, its effective value (secrets redacted) and its source.
public enum ConfigView {
    public struct Row: Sendable, Equatable {
        public var key: String
        public var value: String
        public var source: String
    }

    public static func rows(_ config: ResolvedConfig) -> [Row] {
        config.concreteKeys.map { key in
            let resolved = config[key.path]
            let value: String
            if key.isSecret, case .string(let text) = resolved.value, !text.isEmpty {
                value = SecretRedactor.placeholder
            } else {
                value = ConfigTemplate.yamlLiteral(resolved.value, type: key.type)
            }
            return Row(key: key.path, value: value, source: resolved.source.description)
        }
    }
}
