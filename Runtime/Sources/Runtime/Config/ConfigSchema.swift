import Foundation

/// The type a configuration key accepts, with the rules that turn text into a typed value.
public enum ConfigType: Sendable, Hashable {
    case string
    /// A string that must be one of the listed choices.
    case choice([String])
    case int(ClosedRange<Int>)
    case bool
    /// A duration such as `500ms`, `30s`, `15m`, `8h`, `1d`.
    case duration
    /// A size in bytes: a plain integer or a number with `KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`.
    case byteSize
    /// A list of strings: a YAML sequence, or comma-separated text in the environment and flags.
    case stringList
    /// A JSON object written as text (`'{"top_k": 40}'`), kept as that text; empty for none.
    case jsonObject

    /// What this type expects, in words for error messages.
    public var expectation: String {
        switch self {
        case .string: "a string"
        case .choice(let choices): "one of " + choices.joined(separator: ", ")
        case .int(let range): "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .bool: "true or false"
        case .duration: "a duration such as 500ms, 30s, 15m, 8h or 1d"
        case .byteSize: "a size such as 65536, 64KiB, 10MB or 1GiB"
        case .stringList: "a list of strings"
        case .jsonObject: "a JSON object as text, such as '{\"top_k\": 40}'"
        }
    }

    /// Parses one scalar. Returns nil when the text does not fit the type.
    public func parse(scalar text: String) -> ConfigValue? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch self {
        case .string:
            return .string(text)
        case .choice(let choices):
            return choices.contains(trimmed) ? .string(trimmed) : nil
        case .int(let range):
            guard let value = Int(trimmed), range.contains(value) else { return nil }
            return .int(value)
        case .bool:
            switch trimmed.lowercased() {
            case "true", "yes", "on": return .bool(true)
            case "false", "no", "off": return .bool(false)
            default: return nil
            }
        case .duration:
            return Self.parseDuration(trimmed).map(ConfigValue.duration)
        case .byteSize:
            return Self.parseByteSize(trimmed).map(ConfigValue.int)
        case .stringList:
            let items = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .list(items)
        case .jsonObject:
            if trimmed.isEmpty { return .string("") }
            guard case .object? = try? JSONValue(parsing: trimmed) else { return nil }
            return .string(trimmed)
        }
    }

    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [
            ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // "5ms" also ends in "s"; the ordering above tries "ms" first, and a number must remain.
            guard let amount = Int64(number), amount >= 0 else { continue }
            let (total, overflow) = amount.multipliedReportingOverflow(by: unit.milliseconds)
            return overflow ? nil : .milliseconds(total)
        }
        return nil
    }

    static func parseByteSize(_ text: String) -> Int? {
        let units: [(suffix: String, factor: Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let amount = Int(text.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)), amount >= 0 else {
                return nil
            }
            let (total, overflow) = amount.multipliedReportingOverflow(by: unit.factor)
            return overflow ? nil : total
        }
        guard let plain = Int(text), plain >= 0 else { return nil }
        return plain
    }
}

/// One configuration key: its dotted path, type, default and documentation.
///
/// A path segment `*` makes the key a pattern for named entries, such as `providers.*.kind`: the user
/// picks the name (`providers.openai.kind`) and every entry gets the pattern's keys and defaults.
public struct ConfigKey: Sendable, Hashable {
    public var path: String
    public var type: ConfigType
    public var defaultValue: ConfigValue
    public var doc: String
    /// Secret values are redacted in `config show` and never logged.
    public var isSecret: Bool
    /// Changing this key takes effect only after a restart; hot reload reports it instead of applying it.
    public var requiresRestart: Bool

    /// Characters a user-chosen entry name may use; they also have to survive the trip through an
    /// environment variable name (`SWIFTLET_PROVIDERS__LOCAL_LLM__BASE_URL`).
    public static func isValidEntryName(_ name: some StringProtocol) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }

    /// True for a pattern key with a `*` segment.
    public var isPattern: Bool { path.split(separator: ".").contains("*") }

    public init(
        _ path: String,
        _ type: ConfigType,
        default defaultValue: ConfigValue,
        doc: String,
        secret: Bool = false,
        requiresRestart: Bool = false
    ) {
        self.path = path
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
        self.isSecret = secret
        self.requiresRestart = requiresRestart
    }
}

/// The whole configuration vocabulary: sections with their documentation, and every key.
///
/// The schema is the single source for validation, defaults, `config show`, the commented
/// `config.yaml` that `swiftlet init` writes and the README configuration reference.
public struct ConfigSchema: Sendable {
    public struct Section: Sendable {
        public var path: String
        public var doc: String
    }

    public var sections: [Section]
    public var keys: [ConfigKey]
    private let keysByPath: [String: ConfigKey]
    private let sectionPaths: Set<String>

    public init(sections: [Section], keys: [ConfigKey]) {
        self.sections = sections
        self.keys = keys
        self.keysByPath = Dictionary(keys.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var prefixes = Set<String>()
        for key in keys {
            var parts = key.path.split(separator: ".").dropLast()
            while !parts.isEmpty {
                prefixes.insert(parts.joined(separator: "."))
                parts = parts.dropLast()
            }
        }
        self.sectionPaths = prefixes
    }

    /// The key for a concrete path; a pattern key comes back with the entry name filled in.
    public func key(_ path: String) -> ConfigKey? {
        if let key = keysByPath[path] { return key }
        guard let pattern = patternPath(for: path), var key = keysByPath[pattern] else { return nil }
        key.path = path
        return key
    }

    public func isSection(_ path: String) -> Bool {
        sectionPaths.contains(path) || patternPath(for: path).map(sectionPaths.contains) == true
    }

    /// True for a section the schema names explicitly (`channels.webchat`), as opposed to an entry of a collection.
    public func isFixedSection(_ path: String) -> Bool { sectionPaths.contains(path) }

    /// The collection `path` is an entry of (`providers.openai` → `providers`), or nil.
    public func collection(ofEntry path: String) -> String? {
        guard let pattern = patternPath(for: path), pattern.hasSuffix(".*") else { return nil }
        return String(pattern.dropLast(2))
    }

    /// True when `path` is a collection of named entries, such as `providers`.
    public func isCollection(_ path: String) -> Bool { sectionPaths.contains(path + ".*") }

    /// Names that are valid directly under `parent` ("" for the top level), for "did you mean" hints.
    public func children(of parent: String) -> [String] {
        let parent = patternPath(for: parent) ?? parent
        let prefix = parent.isEmpty ? "" : parent + "."
        var names = Set<String>()
        for path in keysByPath.keys where path.hasPrefix(prefix) {
            if let first = path.dropFirst(prefix.count).split(separator: ".").first, first != "*" { names.insert(String(first)) }
        }
        return names.sorted()
    }

    /// `providers.openai.kind` → `providers.*.kind` when such a pattern exists (entry names must be valid).
    func patternPath(for path: String) -> String? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        for index in parts.indices where index > 0 {
            let collection = parts[..<index].joined(separator: ".")
            guard sectionPaths.contains(collection + ".*"), ConfigKey.isValidEntryName(parts[index]) else { continue }
            var replaced = parts
            replaced[index] = "*"
            let candidate = replaced.joined(separator: ".")
            if keysByPath[candidate] != nil || sectionPaths.contains(candidate) { return candidate }
        }
        return nil
    }

    /// The concrete keys of one named entry: `entryKeys(collection: "providers", name: "openai")`.
    public func entryKeys(collection: String, name: String) -> [ConfigKey] {
        let prefix = collection + ".*."
        return keys.filter { $0.path.hasPrefix(prefix) }.map { key in
            var concrete = key
            concrete.path = collection + "." + name + "." + key.path.dropFirst(prefix.count)
            return concrete
        }
    }

    /// Collections of named entries (`providers`), in schema order.
    public var collections: [String] {
        var seen: [String] = []
        for key in keys where key.isPattern {
            let collection = key.path.components(separatedBy: ".*.").first ?? key.path
            if !seen.contains(collection) { seen.append(collection) }
        }
        return seen
    }
}
