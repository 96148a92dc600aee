import Foundation
import Yams

/// A value set on the command line, such as `--port 8080` or `--set logging.level=debug`.
public struct ConfigOverride: Sendable, Hashable {
    public var path: String
    public var value: String
    public var flag: String

    public init(path: String, value: String, flag: String) {
        self.path = path
        self.value = value
        self.flag = flag
    }
}

/// Every key with its effective value and the layer that set it.
public struct ResolvedConfig: Sendable {
    public let schema: ConfigSchema
    public let values: [String: ResolvedConfigValue]

    public subscript(path: String) -> ResolvedConfigValue {
        guard let value = values[path] else { preconditionFailure("configuration key \(path) is not in the schema") }
        return value
    }

    public func string(_ path: String) -> String {
        guard case .string(let value) = self[path].value else { preconditionFailure("\(path) is not a string") }
        return value
    }

    public func int(_ path: String) -> Int {
        guard case .int(let value) = self[path].value else { preconditionFailure("\(path) is not an integer") }
        return value
    }

    public func bool(_ path: String) -> Bool {
        guard case .bool(let value) = self[path].value else { preconditionFailure("\(path) is not a boolean") }
        return value
    }

    public func duration(_ path: String) -> Duration {
        guard case .duration(let value) = self[path].value else { preconditionFailure("\(path) is not a duration") }
        return value
    }

    public func list(_ path: String) -> [String] {
        guard case .list(let value) = self[path].value else { preconditionFailure("\(path) is not a list") }
        return value
    }

    /// Names of the entries of a collection, such as the configured providers, sorted.
    public func entryNames(_ collection: String) -> [String] {
        let prefix = collection + "."
        var names = Set<String>()
        for path in values.keys where path.hasPrefix(prefix) {
            // A fixed section beside the entries (`channels.webchat` beside `channels.<name>`) is not an entry.
            if let name = path.dropFirst(prefix.count).split(separator: ".").first,
                !schema.isFixedSection(prefix + name)
            {
                names.insert(String(name))
            }
        }
        return names.sorted()
    }

    /// Every concrete key: plain keys in schema order, then each collection's entries with their keys.
    public var concreteKeys: [ConfigKey] {
        schema.keys.filter { !$0.isPattern }
            + schema.collections.flatMap { collection in
                entryNames(collection).flatMap { schema.entryKeys(collection: collection, name: $0) }
            }
    }
}

/// Merges configuration layers into one validated configuration, collecting every issue.
///
/// Layers, lowest first: built-in defaults < YAML files (config.yaml, then config.d/*.yaml in name order)
/// < `SWIFTLET_<SECTION>__<KEY>` variables from `.env` < the same from the process environment < flags.
/// `${VAR}` in YAML values expands from the process environment over `.env`. Pure: no file or
/// environment access, so every rule is tested directly.
public struct ConfigResolver: Sendable {
    public struct YAMLFile: Sendable {
        public var path: String
        public var text: String

        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    public static let environmentPrefix = "SWIFTLET_"

    public let schema: ConfigSchema

    public init(schema: ConfigSchema = .swiftlet) {
        self.schema = schema
    }

    public func resolve(
        files: [YAMLFile],
        dotenv: YAMLFile? = nil,
        environment: [String: String],
        overrides: [ConfigOverride] = []
    ) throws(ConfigError) -> ResolvedConfig {
        var issues: [ConfigIssue] = []
        var values = Dictionary(
            uniqueKeysWithValues: schema.keys.filter { !$0.isPattern }.map { ($0.path, ResolvedConfigValue(value: $0.defaultValue, source: .defaults)) })

        var dotenvFile = DotEnvFile(entries: [])
        if let dotenv {
            let parsed = DotEnvFile.parse(dotenv.text)
            dotenvFile = parsed.file
            for error in parsed.errors {
                issues.append(ConfigIssue(source: ConfigSource(.file(path: dotenv.path), line: error.line), keyPath: "", message: error.message))
            }
        }
        let variables = dotenvFile.variables.merging(environment) { _, process in process }

        for file in files {
            apply(yaml: file, variables: variables, to: &values, issues: &issues)
        }
        if let dotenv {
            for entry in dotenvFile.entries where environment[entry.name] == nil {
                let source = ConfigSource(.dotenv(path: dotenv.path, variable: entry.name), line: entry.line)
                apply(variable: entry.name, value: entry.value, source: source, to: &values, issues: &issues)
            }
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            apply(variable: name, value: value, source: ConfigSource(.environment(variable: name)), to: &values, issues: &issues)
        }
        for override in overrides {
            let source = ConfigSource(.flag(name: override.flag))
            guard let key = schema.key(override.path) else {
                issues.append(ConfigIssue(source: source, keyPath: override.path, message: unknownKeyMessage(override.path)))
                continue
            }
            assign(scalar: override.value, to: key, source: source, values: &values, issues: &issues)
        }

        guard issues.isEmpty else { throw ConfigError(issues) }
        // A named entry mentioned in any layer gets every key of its pattern, defaults included.
        let mentioned = ResolvedConfig(schema: schema, values: values)
        for collection in schema.collections {
            for name in mentioned.entryNames(collection) {
                for key in schema.entryKeys(collection: collection, name: name) where values[key.path] == nil {
                    values[key.path] = ResolvedConfigValue(value: key.defaultValue, source: .defaults)
                }
            }
        }
        return ResolvedConfig(schema: schema, values: values)
    }

    /// Maps `SWIFTLET_LOGGING__FILE__MAX_SIZE` to `logging.file.max_size`; nil for variables that are not
    /// configuration keys (no `__`, such as `SWIFTLET_HOME`).
    public static func keyPath(forVariable name: String) -> String? {
        guard name.hasPrefix(environmentPrefix) else { return nil }
        let rest = name.dropFirst(environmentPrefix.count)
        guard rest.contains("__") else { return nil }
        return rest.components(separatedBy: "__").map { $0.lowercased() }.joined(separator: ".")
    }

    /// The variable that sets a key: `gateway.port` is `SWIFTLET_GATEWAY__PORT`.
    public static func variable(forKeyPath path: String) -> String {
        environmentPrefix + path.split(separator: ".").map { $0.uppercased() }.joined(separator: "__")
    }

    // MARK: - Layers

    private func apply(variable name: String, value: String, source: ConfigSource, to values: inout [String: ResolvedConfigValue], issues: inout [ConfigIssue]) {
        guard let path = Self.keyPath(forVariable: name) else { return }
        guard let key = schema.key(path) else {
            issues.append(ConfigIssue(source: source, keyPath: path, message: "\(name) does not name a configuration key; " + unknownKeyMessage(path)))
            return
        }
        assign(scalar: value, to: key, source: source, values: &values, issues: &issues)
    }

    private func apply(yaml file: YAMLFile, variables: [String: String], to values: inout [String: ResolvedConfigValue], issues: inout [ConfigIssue]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: file.text)
        } catch {
            issues.append(Self.issue(forYAMLError: error, path: file.path))
            return
        }
        guard let root else { return }  // an empty file, or one with only comments
        if case .scalar(let scalar) = root, Self.isNull(scalar) { return }
        guard case .mapping(let mapping) = root else {
            issues.append(ConfigIssue(source: source(file, root), keyPath: "", message: "the top level must be a mapping of sections, such as 'gateway:'"))
            return
        }
        walk(mapping, parent: "", file: file, variables: variables, values: &values, issues: &issues)
    }

    private func walk(
        _ mapping: Node.Mapping,
        parent: String,
        file: YAMLFile,
        variables: [String: String],
        values: inout [String: ResolvedConfigValue],
        issues: inout [ConfigIssue]
    ) {
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                issues.append(ConfigIssue(source: source(file, keyNode), keyPath: parent, message: "keys must be plain names"))
                continue
            }
            let path = parent.isEmpty ? keyScalar.string : parent + "." + keyScalar.string
            if let key = schema.key(path) {
                assign(node: valueNode, to: key, file: file, variables: variables, values: &values, issues: &issues)
            } else if schema.isSection(path) {
                // `providers: {openai: }` names an entry even without keys: it gets every default.
                if let collection = schema.collection(ofEntry: path) {
                    let name = String(path.dropFirst(collection.count + 1))
                    for key in schema.entryKeys(collection: collection, name: name) where values[key.path] == nil {
                        values[key.path] = ResolvedConfigValue(value: key.defaultValue, source: .defaults)
                    }
                }
                switch valueNode {
                case .mapping(let child):
                    walk(child, parent: path, file: file, variables: variables, values: &values, issues: &issues)
                case .scalar(let scalar) where Self.isNull(scalar):
                    continue
                default:
                    let children = schema.children(of: path).joined(separator: ", ")
                    issues.append(ConfigIssue(source: source(file, valueNode), keyPath: path, message: "expected a section with keys (\(children)), found \(Self.describe(valueNode))"))
                }
            } else {
                issues.append(ConfigIssue(source: source(file, keyNode), keyPath: path, message: unknownKeyMessage(path)))
            }
        }
    }

    private func assign(
        node: Node,
        to key: ConfigKey,
        file: YAMLFile,
        variables: [String: String],
        values: inout [String: ResolvedConfigValue],
        issues: inout [ConfigIssue]
    ) {
        let location = source(file, node)
        func expanded(_ scalar: Node.Scalar) -> String? {
            do {
                return try VariableSubstitution.expand(scalar.string, variables: variables)
            } catch {
                issues.append(ConfigIssue(source: location, keyPath: key.path, message: error.description))
                return nil
            }
        }
        switch node {
        case .scalar(let scalar) where Self.isNull(scalar):
            issues.append(ConfigIssue(source: location, keyPath: key.path, message: "has no value; expected \(key.type.expectation) (remove the line to use the default)"))
        case .scalar(let scalar):
            guard let text = expanded(scalar) else { return }
            if key.type == .stringList {
                issues.append(ConfigIssue(source: location, keyPath: key.path, message: "expected a list of strings, such as [a, b], found a single value"))
                return
            }
            assign(scalar: text, to: key, source: location, values: &values, issues: &issues)
        case .sequence(let sequence) where key.type == .stringList:
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    issues.append(ConfigIssue(source: source(file, item), keyPath: key.path, message: "list items must be strings, found \(Self.describe(item))"))
                    return
                }
                guard let text = expanded(scalar) else { return }
                items.append(text)
            }
            values[key.path] = ResolvedConfigValue(value: .list(items), source: location)
        default:
            issues.append(ConfigIssue(source: location, keyPath: key.path, message: "expected \(key.type.expectation), found \(Self.describe(node))"))
        }
    }

    private func assign(scalar text: String, to key: ConfigKey, source: ConfigSource, values: inout [String: ResolvedConfigValue], issues: inout [ConfigIssue]) {
        guard let value = key.type.parse(scalar: text) else {
            let shown = key.isSecret ? "a value" : "'\(text)'"
            issues.append(ConfigIssue(source: source, keyPath: key.path, message: "expected \(key.type.expectation), found \(shown)"))
            return
        }
        values[key.path] = ResolvedConfigValue(value: value, source: source)
    }

    // MARK: - Messages

    private func unknownKeyMessage(_ path: String) -> String {
        var parts = path.split(separator: ".").map(String.init)
        let name = parts.removeLast()
        var parent = parts.joined(separator: ".")
        while !parent.isEmpty && !schema.isSection(parent) {
            parent = parent.split(separator: ".").dropLast().joined(separator: ".")
        }
        if schema.isCollection(parent) {
            let name = path.dropFirst(parent.count + 1).split(separator: ".").first.map(String.init) ?? name
            return "'\(name)' is not a valid entry name: use 1 to 64 lower-case letters, digits or _ (it also becomes part of SWIFTLET_\(parent.uppercased())__<NAME>__... variables)"
        }
        let candidates = schema.children(of: parent)
        let where_ = parent.isEmpty ? "at the top level" : "in section '\(parent)'"
        if let suggestion = NameSuggestion.closest(to: name, among: candidates) {
            return "unknown key \(where_); did you mean '\(suggestion)'? (valid: \(candidates.joined(separator: ", ")))"
        }
        return "unknown key \(where_) (valid: \(candidates.joined(separator: ", ")))"
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): "'\(scalar.string)'"
        case .alias: "an alias"
        }
    }

    private static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private func source(_ file: YAMLFile, _ node: Node) -> ConfigSource {
        ConfigSource(.file(path: file.path), line: node.mark?.line)
    }

    static func issue(forYAMLError error: any Error, path: String) -> ConfigIssue {
        let file = ConfigSource.Layer.file(path: path)
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigIssue(source: ConfigSource(file, line: mark.line), keyPath: "", message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigIssue(
                source: ConfigSource(file, line: context.mark.line), keyPath: "",
                message: "duplicate key \(duplicates.joined(separator: ", ")) in one mapping")
        default:
            return ConfigIssue(source: ConfigSource(file), keyPath: "", message: "invalid YAML: \(error)")
        }
    }
}
