import Foundation

/// The system prompt: the workspace's persona file when there is one, then notes on the tools.
public enum Persona {
    public static let builtin = """
        You are swiftlet, a personal assistant running on your user's own machine. Be direct, accurate and brief. \
        Say so when you do not know. Use the tools when they help; never invent their results.
        """

    /// - Parameters:
    ///   - personaText: the persona file's contents, nil when absent.
    public static func systemPrompt(personaText: String?, tools: [ToolDefinition]) -> String {
        var prompt = personaText?.trimmingCharacters(in: .whitespacesAndNewlines).ifEmpty(builtin) ?? builtin
        if !tools.isEmpty {
            prompt += "\n\nTools you can call: " + tools.map { "\($0.name) (\($0.description))" }.joined(separator: "; ") + "."
        }
        return prompt
    }
}
