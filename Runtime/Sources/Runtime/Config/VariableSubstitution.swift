import Foundation

/// Expands `${VAR}` and `${VAR:-default}` in configuration text; `$$` stands for a literal `$`.
///
/// Pure: the caller supplies the variables (process environment over `.env`).
public enum VariableSubstitution {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case undefined(String)
        case unterminated
        case invalidName(String)

        public var description: String {
            switch self {
            case .undefined(let name):
                "undefined variable ${\(name)}: set it in the environment or .env, or write ${\(name):-default}"
            case .unterminated: "unterminated ${ in value"
            case .invalidName(let name): "invalid variable name '\(name)' in ${...}"
            }
        }
    }

    public static func expand(_ text: String, variables: [String: String]) throws(Failure) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                output.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                output.append(character)
                index = next
                continue
            }
            let bodyStart = text.index(after: next)
            guard let close = text[bodyStart...].firstIndex(of: "}") else { throw .unterminated }
            let body = text[bodyStart..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.range(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            guard isValidName(name) else { throw .invalidName(String(name)) }
            if let value = variables[String(name)], !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                throw .undefined(String(name))
            }
            index = text.index(after: close)
        }
        return output
    }

    static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
