import Foundation

/// A parsed `.env` file: `KEY=value` lines, `#` comments, optional `export ` and quotes.
public struct DotEnvFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: String
        public var line: Int
    }

    public var entries: [Entry]

    public var variables: [String: String] {
        Dictionary(entries.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Parses the text; every malformed line is reported with its line number.
    public static func parse(_ text: String) -> (file: DotEnvFile, errors: [(line: Int, message: String)]) {
        var entries: [Entry] = []
        var errors: [(line: Int, message: String)] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                errors.append((lineNumber, "expected KEY=value"))
                continue
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard VariableSubstitution.isValidName(Substring(name)) else {
                errors.append((lineNumber, "invalid variable name '\(name)'"))
                continue
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                guard value.count >= 2, value.last == quote else {
                    errors.append((lineNumber, "unterminated quoted value for \(name)"))
                    continue
                }
                value = String(value.dropFirst().dropLast())
                if quote == "\"" {
                    value = value.replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\\"", with: "\"")
                }
            } else if let comment = value.range(of: " #") {
                value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            entries.append(Entry(name: name, value: value, line: lineNumber))
        }
        return (DotEnvFile(entries: entries), errors)
    }
}
