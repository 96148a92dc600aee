import Foundation

/// One case of a skill's own tests (`swiftlet skills test NAME`): a JSON file in the skill's `tests/` folder.
///
/// ```json
/// { "input": { "question": "How do I reset my password?" },
///   "expect": { "contains": ["Settings"], "not_contains": ["Traceback"] } }
/// ```
/// `expect.error: true` expects the run to fail (its error text is what `contains` is matched against). Pure: the
/// caller reads the files and runs the skill.
public struct SkillTestCase: Sendable, Equatable {
    public var name: String
    public var input: JSONValue
    public var contains: [String]
    public var notContains: [String]
    public var equals: String?
    public var expectsError: Bool

    public static func parse(name: String, text: String) throws -> SkillTestCase {
        let root = try JSONValue(parsing: text)
        guard case .object(let members) = root else { throw ToolError("\(name): a test case must be a JSON object") }
        let unknown = Set(members.keys).subtracting(["input", "expect", "description"])
        guard unknown.isEmpty else { throw ToolError("\(name): unknown fields \(unknown.sorted().joined(separator: ", ")) (allowed: input, expect, description)") }
        let expect = members["expect"] ?? .object([:])
        guard case .object(let expected) = expect else { throw ToolError("\(name): expect must be an object") }
        let unknownExpect = Set(expected.keys).subtracting(["contains", "not_contains", "equals", "error"])
        guard unknownExpect.isEmpty else {
            throw ToolError("\(name): unknown expect fields \(unknownExpect.sorted().joined(separator: ", ")) (allowed: contains, not_contains, equals, error)")
        }
        func strings(_ key: String) throws -> [String] {
            switch expected[key] {
            case nil: return []
            case .string(let text)?: return [text]
            case .array(let items)?:
                return try items.map { item in
                    guard let text = item.stringValue else { throw ToolError("\(name): expect.\(key) must hold strings") }
                    return text
                }
            default: throw ToolError("\(name): expect.\(key) must be a string or a list of strings")
            }
        }
        var expectsError = false
        if let flag = expected["error"] {
            guard case .bool(let value) = flag else { throw ToolError("\(name): expect.error must be true or false") }
            expectsError = value
        }
        return SkillTestCase(
            name: name, input: members["input"] ?? .object([:]), contains: try strings("contains"), notContains: try strings("not_contains"),
            equals: expected["equals"]?.stringValue, expectsError: expectsError)
    }

    /// What is wrong with a run's outcome for this case; empty when it passes.
    public func failures(_ outcome: Result<String, ToolError>) -> [String] {
        var failures: [String] = []
        let text: String
        switch outcome {
        case .success(let output):
            text = output
            if expectsError { failures.append("expected an error, got output: \(output.prefix(300))") }
        case .failure(let error):
            text = error.message
            if !expectsError { failures.append("failed: \(error.message)") }
        }
        for needle in contains where !text.contains(needle) { failures.append("missing \"\(needle)\"") }
        for needle in notContains where text.contains(needle) { failures.append("contains \"\(needle)\", which it must not") }
        if let equals, text != equals { failures.append("expected exactly \"\(equals)\", got \"\(text.prefix(300))\"") }
        return failures
    }
}
