import Foundation

/// Renders human-facing views of the schema: the commented `config.yaml` and the Markdown reference.
public enum ConfigTemplate {
    /// A `config.yaml` in which every key is present but commented out with its default and its
    /// documentation, grouped by section. Uncommenting a line and editing the value is all a user does.
    public static func render(schema: ConfigSchema) -> String {
        var lines = [
            "# swiftlet configuration.",
            "# Layers, lowest first: built-in defaults < this file < config.d/*.yaml < .env and environment",
            "# (SWIFTLET_<SECTION>__<KEY>, e.g. SWIFTLET_GATEWAY__PORT=8080) < command-line flags.",
            "# ${VAR} and ${VAR:-default} expand from the environment and .env. Unknown keys are errors.",
            "# `swiftlet config validate` checks this file; `swiftlet config show` prints the effective values.",
        ]
        var openSections: [String] = []
        for key in schema.keys {
            let parts = key.path.split(separator: ".").map(String.init)
            let sections = Array(parts.dropLast())
            var common = 0
            while common < min(sections.count, openSections.count) && sections[common] == openSections[common] { common += 1 }
            for depth in common..<sections.count {
                let path = sections[...depth].joined(separator: ".")
                let indent = String(repeating: "  ", count: depth)
                if depth == 0 { lines.append("") }
                if let doc = schema.sections.first(where: { $0.path == path })?.doc { lines.append("\(indent)# \(doc)") }
                // A named entry is shown under an example name, so an uncommented template stays valid.
                let name = sections[depth] == "*" ? (exampleNames[sections[..<depth].joined(separator: ".")] ?? "example") : sections[depth]
                lines.append("\(indent)# \(name):")
            }
            openSections = sections
            let indent = String(repeating: "  ", count: sections.count)
            lines.append("\(indent)#   \(key.doc)")
            lines.append("\(indent)# \(parts.last!): \(yamlLiteral(key.defaultValue, type: key.type))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The entry name shown for each collection in the template.
    static let exampleNames = ["providers": "openai", "tools.rules": "fs_write"]

    /// A Markdown table of every key for the README.
    public static func markdownReference(schema: ConfigSchema) -> String {
        var lines = ["| key | type | default | environment variable | description |", "|---|---|---|---|---|"]
        for key in schema.keys {
            var doc = key.doc
            if key.requiresRestart { doc += " (restart to apply)" }
            if key.isSecret { doc += " Secret: redacted in output." }
            lines.append("| `\(key.path.replacingOccurrences(of: "*", with: "<name>"))` | \(key.type.expectation) | `\(yamlLiteral(key.defaultValue, type: key.type))` | `\(ConfigResolver.variable(forKeyPath: key.path).replacingOccurrences(of: "*", with: "<NAME>"))` | \(doc) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A value as it would be written in YAML; byte sizes in the largest exact binary unit.
    static func yamlLiteral(_ value: ConfigValue, type: ConfigType) -> String {
        if type == .byteSize, case .int(let bytes) = value, bytes > 0 {
            for (suffix, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % size == 0 {
                return "\(bytes / size)\(suffix)"
            }
        }
        // Quoted where plain YAML would read something else: empty, a mapping colon, a comment, an alias.
        let quoted = { (text: String) in text.isEmpty || text.contains(":") || text.contains("#") || text.hasPrefix("*") ? "\"\(text)\"" : text }
        return switch value {
        case .string(let text): quoted(text)
        case .list(let items): "[" + items.map(quoted).joined(separator: ", ") + "]"
        default: value.description
        }
    }
}
