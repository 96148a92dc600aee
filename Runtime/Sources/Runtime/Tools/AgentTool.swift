/// A function the model can call.
///
/// `run` may be called concurrently from any task; it returns text for the model, or throws
/// ``ToolError`` whose message the model sees so it can correct itself.
public protocol AgentTool: Sendable {
    var definition: ToolDefinition { get }
    /// The plugin (or skill) that registered the tool, which `tools.rules` may name; nil for built-in tools.
    var group: String? { get }
    func run(arguments: JSONValue, context: ToolContext) async throws -> String
}

extension AgentTool {
    public var group: String? { nil }
}

/// What a tool knows about the call it serves.
public struct ToolContext: Sendable {
    public var messageID: String
    public var sessionID: String
    public var channel: String
    public var sender: String

    public init(messageID: String, sessionID: String, channel: String, sender: String) {
        self.messageID = messageID
        self.sessionID = sessionID
        self.channel = channel
        self.sender = sender
    }
}

/// A failure the model is told about.
public struct ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
