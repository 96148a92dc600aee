public import Foundation

/// The workspace's tools.json: the plugins to load and what each may reach.
///
/// ```json
/// {
///   "version": 1,
///   "plugins": [
///     {
///       "name": "file_search",
///       "file": "libFileSearch.so",
///       "sha256": "…",
///       "isolation": "in-process",
///       "permissions": { "files": { "read": ["knowledge"] }, "timeout_seconds": 10 }
///     }
///   ],
///   "skills": []
/// }
/// ```
///
/// The JSON Schema is `tools.schema.json` at the repository root; ``parse(_:)`` applies the same rules and names
/// the entry and field of every problem.
public struct ToolsFile: Sendable, Equatable {
    public static let currentVersion = 1

    public var plugins: [PluginEntry]
    public var skills: [SkillEntry]

    public init(plugins: [PluginEntry] = [], skills: [SkillEntry] = []) {
        self.plugins = plugins
        self.skills = skills
    }

    /// One `skills[]` entry: a skill folder, and what its runs may reach and use.
    public struct SkillEntry: Sendable, Equatable {
        public enum Sandbox: String, Sendable, CaseIterable {
            case bubblewrap = "bwrap"
            /// No sandbox at all: only when the entry says so; logged loudly, flagged by doctor, audited.
            case none
        }

        public var name: String
        /// The folder holding SKILL.md: workspace-relative or absolute; `skills/<name>` by default.
        public var path: String
        public var enabled: Bool
        public var sandbox: Sandbox
        /// The grant: what SKILL.md asks for counts only when it is listed here.
        public var permissions: PermissionSet
        public var limits: SkillLimits

        public init(
            name: String, path: String? = nil, enabled: Bool = true, sandbox: Sandbox = .bubblewrap, permissions: PermissionSet = .none,
            limits: SkillLimits = SkillLimits()
        ) {
            self.name = name
            self.path = path ?? "skills/\(name)"
            self.enabled = enabled
            self.sandbox = sandbox
            self.permissions = permissions
            self.limits = limits
        }
    }

    /// The kernel limits of one skill run, beyond `permissions.timeout_seconds` (wall clock) and `memory_mb`
    /// (address space).
    public struct SkillLimits: Sendable, Equatable {
        public var cpuSeconds = 10
        /// Processes and threads the run may have at once.
        public var processes = 32
        public var openFiles = 64
        /// The largest file the run may write.
        public var fileSizeMB = 16
        /// Standard output beyond this ends the run with an error.
        public var outputKB = 256

        public init() {}
    }

    /// One `plugins[]` entry.
    public struct PluginEntry: Sendable, Equatable {
        public enum Isolation: String, Sendable, CaseIterable {
            case inProcess = "in-process"
            case process
        }

        public var name: String
        /// The `.so`: absolute, or a file name looked up in the workspace `Plugins/` folder and then beside the
        /// `swiftlet` executable (where first-party plugins are built).
        public var file: String
        /// Lower-case hex SHA-256 the file must have, when given.
        public var sha256: String?
        public var isolation: Isolation
        public var enabled: Bool
        public var permissions: PermissionSet
        /// The entry's `config` object as JSON text.
        public var configuration: String

        public init(
            name: String, file: String, sha256: String? = nil, isolation: Isolation = .inProcess, enabled: Bool = true, permissions: PermissionSet = .none,
            configuration: String = "{}"
        ) {
            self.name = name
            self.file = file
            self.sha256 = sha256
            self.isolation = isolation
            self.enabled = enabled
            self.permissions = permissions
            self.configuration = configuration
        }
    }

    /// A problem in tools.json, located by a path such as `plugins[1] (fs).permissions.network[0]`.
    public struct Issue: Error, Sendable, Equatable, CustomStringConvertible {
        public var location: String
        public var message: String

        public var description: String { location.isEmpty ? message : "\(location): \(message)" }
    }

    /// All problems found, so a user fixes them in one pass.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var issues: [Issue]

        public var description: String { "\(file) is invalid:\n" + issues.map { "  \($0)" }.joined(separator: "\n") }
    }

    /// Reads `url`; a missing file is an empty registry (nothing loaded), anything unreadable or invalid throws.
    public static func load(_ url: URL) throws -> ToolsFile {
        guard FileManager.default.fileExists(atPath: url.path) else { return ToolsFile() }
        let data = try Data(contentsOf: url)
        do {
            return try parse(data)
        } catch {
            throw Invalid(file: url.path, issues: error.issues)
        }
    }

    /// The fields each object may have; `tools.schema.json` lists the same (a test holds them together).
    static let fileFields: Set<String> = ["$schema", "version", "plugins", "skills"]
    static let pluginFields: Set<String> = ["name", "file", "sha256", "isolation", "enabled", "permissions", "config", "description"]
    static let permissionFields: Set<String> = ["files", "network", "env", "secrets", "exec", "timeout_seconds", "memory_mb"]
    static let fileAccessFields: Set<String> = ["read", "write"]
    static let skillFields: Set<String> = ["name", "path", "enabled", "sandbox", "permissions", "limits", "description"]
    static let limitFields: Set<String> = ["cpu_seconds", "processes", "open_files", "file_size_mb", "output_kb"]

    /// The rule providers apply to tool (function) names: 1 to 64 of letters, digits, `_` and `-`.
    static func isValidToolName(_ name: String) -> Bool {
        isIdentifier(name, upperCase: true)
    }

    /// A plugin's name: 1 to 64 of a-z, 0-9, `_` and `-`, starting with a letter or digit.
    static func isValidName(_ name: String) -> Bool {
        isIdentifier(name, upperCase: false) && name.utf8.first.map { $0 != UInt8(ascii: "_") && $0 != UInt8(ascii: "-") } == true
    }

    private static func isIdentifier(_ name: String, upperCase: Bool) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (0x61...0x7A).contains(byte) || (upperCase && (0x41...0x5A).contains(byte)) || (0x30...0x39).contains(byte) || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
            }
    }

    /// Parses and validates the text of a tools.json.
    public static func parse(_ data: Data) throws(Invalid) -> ToolsFile {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: Array(data))
        } catch {
            throw Invalid(file: "tools.json", issues: [Issue(location: "", message: "not valid JSON (\(error))")])
        }
        var reader = Reader()
        let file = reader.file(root)
        guard reader.issues.isEmpty else { throw Invalid(file: "tools.json", issues: reader.issues) }
        return file
    }

    /// Walks the JSON, collecting issues instead of stopping at the first.
    struct Reader {
        var issues: [Issue] = []

        mutating func fail(_ location: String, _ message: String) {
            issues.append(Issue(location: location, message: message))
        }

        mutating func object(_ value: JSONValue?, _ location: String, allowed: Set<String>) -> [String: JSONValue]? {
            guard case .object(let members)? = value else {
                fail(location, "must be an object")
                return nil
            }
            for key in members.keys.sorted() where !allowed.contains(key) {
                fail(location.isEmpty ? key : "\(location).\(key)", "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            return members
        }

        mutating func strings(_ value: JSONValue?, _ location: String) -> [String] {
            guard let value else { return [] }
            guard case .array(let items) = value else {
                fail(location, "must be an array of strings")
                return []
            }
            return items.enumerated().compactMap { index, item in
                guard case .string(let text) = item, !text.isEmpty else {
                    fail("\(location)[\(index)]", "must be a non-empty string")
                    return nil
                }
                return text
            }
        }

        mutating func file(_ root: JSONValue) -> ToolsFile {
            guard let members = object(root, "", allowed: ToolsFile.fileFields) else { return ToolsFile() }
            if let version = members["version"] {
                if version.intValue != ToolsFile.currentVersion { fail("version", "must be \(ToolsFile.currentVersion)") }
            } else {
                fail("version", "is required (\(ToolsFile.currentVersion))")
            }
            var file = ToolsFile()
            if let skills = members["skills"] {
                if case .array(let entries) = skills {
                    var seenSkills: Set<String> = []
                    for (index, entry) in entries.enumerated() {
                        let location = "skills[\(index)]" + (entry["name"]?.stringValue.map { " (\($0))" } ?? "")
                        guard let skill = skill(entry, location) else { continue }
                        if !seenSkills.insert(skill.name).inserted { fail("\(location).name", "'\(skill.name)' is registered twice") }
                        file.skills.append(skill)
                    }
                } else {
                    fail("skills", "must be an array")
                }
            }
            guard let plugins = members["plugins"] else { return file }
            guard case .array(let entries) = plugins else {
                fail("plugins", "must be an array")
                return file
            }
            var seen: Set<String> = []
            for (index, entry) in entries.enumerated() {
                let name = entry["name"]?.stringValue
                let location = "plugins[\(index)]" + (name.map { " (\($0))" } ?? "")
                guard let plugin = plugin(entry, location) else { continue }
                if !seen.insert(plugin.name).inserted { fail("\(location).name", "'\(plugin.name)' is registered twice") }
                file.plugins.append(plugin)
            }
            return file
        }

        mutating func plugin(_ value: JSONValue, _ location: String) -> PluginEntry? {
            let before = issues.count
            guard let members = object(value, location, allowed: ToolsFile.pluginFields) else {
                return nil
            }
            let name = members["name"]?.stringValue ?? ""
            if members["name"] == nil {
                fail("\(location).name", "is required")
            } else if !ToolsFile.isValidName(name) {
                fail("\(location).name", "must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
            }
            let file = members["file"]?.stringValue ?? ""
            if file.isEmpty { fail("\(location).file", "is required: the plugin's .so (a file name in Plugins/ or an absolute path)") }
            var sha256: String?
            if let value = members["sha256"] {
                if let text = value.stringValue, text.count == 64, text.allSatisfy(\.isHexDigit) {
                    sha256 = text.lowercased()
                } else {
                    fail("\(location).sha256", "must be 64 hexadecimal digits")
                }
            }
            var isolation = PluginEntry.Isolation.inProcess
            if let value = members["isolation"] {
                if let parsed = value.stringValue.flatMap(PluginEntry.Isolation.init(rawValue:)) {
                    isolation = parsed
                } else {
                    fail("\(location).isolation", "must be \"in-process\" or \"process\"")
                }
            }
            var enabled = true
            if let value = members["enabled"] {
                if case .bool(let flag) = value { enabled = flag } else { fail("\(location).enabled", "must be true or false") }
            }
            let permissions = members["permissions"].map { permissionSet($0, "\(location).permissions") } ?? .none
            var configuration = "{}"
            if let value = members["config"] {
                if case .object = value { configuration = value.jsonText } else { fail("\(location).config", "must be an object") }
            }
            guard issues.count == before else { return nil }
            return PluginEntry(
                name: name, file: file, sha256: sha256, isolation: isolation, enabled: enabled, permissions: permissions, configuration: configuration)
        }

        mutating func skill(_ value: JSONValue, _ location: String) -> SkillEntry? {
            let before = issues.count
            guard let members = object(value, location, allowed: ToolsFile.skillFields) else { return nil }
            let name = members["name"]?.stringValue ?? ""
            if !ToolsFile.isValidName(name) {
                fail("\(location).name", members["name"] == nil ? "is required" : "must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
            }
            var path: String?
            if let value = members["path"] {
                if let text = value.stringValue, !text.isEmpty { path = text } else { fail("\(location).path", "must be the skill folder: workspace-relative or absolute") }
            }
            var enabled = true
            if let value = members["enabled"] {
                if case .bool(let flag) = value { enabled = flag } else { fail("\(location).enabled", "must be true or false") }
            }
            var sandbox = SkillEntry.Sandbox.bubblewrap
            if let value = members["sandbox"] {
                if let parsed = value.stringValue.flatMap(SkillEntry.Sandbox.init(rawValue:)) { sandbox = parsed } else {
                    fail("\(location).sandbox", "must be \"bwrap\" or \"none\" (none runs the skill unsandboxed, with every right of the gateway)")
                }
            }
            let permissions = members["permissions"].map { permissionSet($0, "\(location).permissions") } ?? .none
            var limits = SkillLimits()
            if let value = members["limits"], let fields = object(value, "\(location).limits", allowed: ToolsFile.limitFields) {
                func number(_ key: String, _ range: ClosedRange<Int>) -> Int? {
                    guard let field = fields[key] else { return nil }
                    guard let number = field.intValue, range.contains(number) else {
                        fail("\(location).limits.\(key)", "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                        return nil
                    }
                    return number
                }
                limits.cpuSeconds = number("cpu_seconds", 1...3600) ?? limits.cpuSeconds
                limits.processes = number("processes", 1...4096) ?? limits.processes
                limits.openFiles = number("open_files", 16...4096) ?? limits.openFiles
                limits.fileSizeMB = number("file_size_mb", 1...65536) ?? limits.fileSizeMB
                limits.outputKB = number("output_kb", 1...65536) ?? limits.outputKB
            }
            guard issues.count == before else { return nil }
            return SkillEntry(name: name, path: path, enabled: enabled, sandbox: sandbox, permissions: permissions, limits: limits)
        }

        mutating func permissionSet(_ value: JSONValue, _ location: String) -> PermissionSet {
            var set = PermissionSet()
            guard let members = object(value, location, allowed: ToolsFile.permissionFields) else {
                return set
            }
            if let files = members["files"], let fileMembers = object(files, "\(location).files", allowed: ToolsFile.fileAccessFields) {
                set.read = strings(fileMembers["read"], "\(location).files.read")
                set.write = strings(fileMembers["write"], "\(location).files.write")
            }
            for (index, text) in strings(members["network"], "\(location).network").enumerated() {
                if let rule = EgressRule(text) {
                    set.network.append(rule)
                } else {
                    fail("\(location).network[\(index)]", "'\(text)' must be host:port (port 1-65535 or *), [ipv6]:port, or *.domain:port")
                }
            }
            set.environment = strings(members["env"], "\(location).env")
            set.secrets = strings(members["secrets"], "\(location).secrets")
            for (index, name) in set.secrets.enumerated() where name.count > 64 || !name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) {
                fail("\(location).secrets[\(index)]", "'\(name)' must be letters, digits and '_'")
            }
            if let value = members["exec"] {
                if case .bool(let flag) = value { set.exec = flag } else { fail("\(location).exec", "must be true or false") }
            }
            if let value = members["timeout_seconds"] {
                if let seconds = value.numberValue, seconds > 0, seconds <= 3600 { set.timeoutSeconds = seconds } else {
                    fail("\(location).timeout_seconds", "must be a number of seconds above 0 and at most 3600")
                }
            }
            if let value = members["memory_mb"] {
                if let megabytes = value.intValue, (16...65536).contains(megabytes) { set.memoryMB = megabytes } else {
                    fail("\(location).memory_mb", "must be a whole number of MB from 16 to 65536")
                }
            }
            return set
        }
    }
}
