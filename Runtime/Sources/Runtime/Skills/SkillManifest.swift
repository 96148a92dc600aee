import Foundation
import Yams

/// A skill's `SKILL.md`: YAML frontmatter between `---` lines, then the instructions the model reads.
///
/// ```markdown
/// ---
/// name: faq
/// description: Answers questions from the FAQ in knowledge/faq.md.
/// runtime: python
/// entry: main.py
/// input:
///   type: object
///   properties: { question: { type: string } }
///   required: [question]
/// requirements: requirements.txt
/// permissions:
///   files: { read: [knowledge] }
/// ---
/// Call this skill with the user's question...
/// ```
///
/// `name` and `description` follow the AgentSkills convention (whose optional `license`, `compatibility`,
/// `metadata` and `allowed-tools` are accepted and not used); the rest is what running it needs. `permissions` is
/// what the skill asks for: what it gets is its `tools.json` entry's grant, so a skill that edits its own
/// SKILL.md gains nothing. Pure: the caller reads the file.
public struct SkillManifest: Sendable, Equatable {
    public enum Runtime: String, Sendable, CaseIterable {
        case python
        case shell
    }

    public var name: String
    public var description: String
    public var runtime: Runtime
    /// The script, relative to the skill folder.
    public var entry: String
    /// JSON Schema of the input the script reads on standard input.
    public var input: JSONValue
    /// A pip requirements file, relative to the skill folder (python only).
    public var requirements: String?
    /// What the skill asks for; `skills show` compares it with the grant.
    public var requested: PermissionSet
    /// The Markdown after the frontmatter.
    public var instructions: String

    /// The fields the frontmatter may have.
    static let fields: Set<String> = [
        "name", "description", "runtime", "entry", "input", "requirements", "permissions", "license", "compatibility", "metadata", "allowed-tools",
    ]
    static let defaultInput: JSONValue = .object(["type": .string("object"), "properties": .object([:])])

    /// All problems of a SKILL.md, each located by its field.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var issues: [ToolsFile.Issue]

        public var description: String { "SKILL.md is invalid:\n" + issues.map { "  \($0)" }.joined(separator: "\n") }
    }

    /// Parses the text of a SKILL.md.
    public static func parse(_ text: String) throws(Invalid) -> SkillManifest {
        func fail(_ location: String, _ message: String) -> Invalid { Invalid(issues: [ToolsFile.Issue(location: location, message: message)]) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard lines.first == "---", let close = lines.dropFirst().firstIndex(of: "---") else {
            throw fail("", "must start with YAML frontmatter between two '---' lines")
        }
        let yaml = lines[1..<close].joined(separator: "\n")
        let instructions = lines[(close + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        let root: JSONValue
        do {
            root = try Self.json(Yams.compose(yaml: yaml))
        } catch let invalid as Invalid {
            throw invalid
        } catch {
            throw fail("", "the frontmatter is not valid YAML (\(error))")
        }
        guard case .object(let members) = root else { throw fail("", "the frontmatter must be a mapping of fields, such as 'name:'") }
        var issues: [ToolsFile.Issue] = []
        func issue(_ location: String, _ message: String) { issues.append(ToolsFile.Issue(location: location, message: message)) }
        for key in members.keys.sorted() where !fields.contains(key) {
            issue(key, "unknown field (allowed: \(fields.sorted().joined(separator: ", ")))")
        }
        let name = members["name"]?.stringValue ?? ""
        if !ToolsFile.isValidName(name) { issue("name", "must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit") }
        let description = members["description"]?.stringValue ?? ""
        if description.isEmpty || description.count > 1024 { issue("description", "is required: 1 to 1024 characters that tell the model when to use the skill") }
        let runtime = members["runtime"]?.stringValue.flatMap(Runtime.init(rawValue:))
        if runtime == nil { issue("runtime", "must be python or shell") }
        let entry = members["entry"]?.stringValue ?? ""
        if !Self.isInsideFolder(entry) { issue("entry", "must be the script's path inside the skill folder (relative, without '..')") }
        var input = Self.defaultInput
        if let value = members["input"] {
            if case .object = value { input = value } else { issue("input", "must be a JSON Schema object (a mapping)") }
        }
        var requirements: String?
        if let value = members["requirements"] {
            if let path = value.stringValue, Self.isInsideFolder(path) {
                requirements = path
                if runtime == .shell { issue("requirements", "only python skills have requirements") }
            } else {
                issue("requirements", "must be a requirements file's path inside the skill folder")
            }
        }
        var requested = PermissionSet.none
        if let value = members["permissions"] {
            var reader = ToolsFile.Reader()
            requested = reader.permissionSet(value, "permissions")
            issues += reader.issues
        }
        guard issues.isEmpty, let runtime else { throw Invalid(issues: issues) }
        return SkillManifest(
            name: name, description: description, runtime: runtime, entry: entry, input: input, requirements: requirements, requested: requested,
            instructions: instructions)
    }

    /// A relative path that stays inside the folder: not empty, not absolute, no `..` or `.` component.
    static func isInsideFolder(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && path.split(separator: "/").allSatisfy { $0 != ".." && $0 != "." }
    }

    /// YAML as JSON: mappings with string keys, sequences, and scalars by their resolved tag (a number stays a
    /// number, a date stays text).
    static func json(_ node: Node?) throws -> JSONValue {
        guard let node else { return .null }
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue, Tag.Name.float.rawValue: return node.float.map(JSONValue.number) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(try sequence.map { try json($0) })
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw Invalid(issues: [ToolsFile.Issue(location: "", message: "keys must be plain names")])
                }
                members[keyScalar.string] = try json(value)
            }
            return .object(members)
        case .alias:
            throw Invalid(issues: [ToolsFile.Issue(location: "", message: "YAML aliases are not allowed")])
        }
    }
}
