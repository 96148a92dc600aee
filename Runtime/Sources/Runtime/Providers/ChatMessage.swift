/// One message of a model conversation, in the gateway's own shape; each provider maps it to its wire format.
public struct ChatMessage: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case system, user, assistant, tool }

    public var role: Role
    public var content: String
    /// Calls the assistant asked for (assistant messages only).
    public var toolCalls: [ToolCall]
    /// The call a tool message answers.
    public var toolCallID: String?
    /// The tool that produced a tool message (Ollama wants the name, OpenAI and Anthropic the id).
    public var toolName: String?
    /// A tool message that reports a failure (Anthropic's `is_error`).
    public var isError: Bool

    public init(role: Role, content: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil, toolName: String? = nil, isError: Bool = false) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.toolName = toolName
        self.isError = isError
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, content: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, content: text) }
    public static func assistant(_ text: String, toolCalls: [ToolCall] = []) -> ChatMessage {
        ChatMessage(role: .assistant, content: text, toolCalls: toolCalls)
    }
}

/// A function call requested by the model. `arguments` is JSON object text, as OpenAI sends it.
public struct ToolCall: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A tool the model may call: name, what it does, and a JSON Schema of its arguments.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    public var parameters: JSONValue

    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// Tokens a call consumed, as the provider reported them, or counted by the gateway when it reported none
/// (`estimated`).
public struct TokenUsage: Sendable, Equatable, Codable {
    public var input: Int
    public var output: Int
    /// Counted by the gateway (about four bytes a token) because the server sent no usage.
    public var estimated: Bool

    public init(input: Int = 0, output: Int = 0, estimated: Bool = false) {
        self.input = input
        self.output = output
        self.estimated = estimated
    }

    public var isEmpty: Bool { input == 0 && output == 0 }

    public static func + (lhs: TokenUsage, rhs: TokenUsage) -> TokenUsage {
        TokenUsage(input: lhs.input + rhs.input, output: lhs.output + rhs.output, estimated: lhs.estimated || rhs.estimated)
    }

    /// The gateway's own count for a call whose server reported no usage: the prompt as sent (messages and tool
    /// schemas) and the answer (text and tool calls).
    public static func estimate(request: ModelRequest, reply: ModelReply) -> TokenUsage {
        let prompt = request.messages.reduce(0) { total, message in
            total + ContextPlan.estimateTokens(message.content) + message.toolCalls.reduce(0) { $0 + ContextPlan.estimateTokens($1.name + $1.arguments) }
        }
        let answer = ContextPlan.estimateTokens(reply.text) + reply.toolCalls.reduce(0) { $0 + ContextPlan.estimateTokens($1.name + $1.arguments) }
        return TokenUsage(input: prompt + ContextPlan.estimateTokens(tools: request.tools), output: answer, estimated: true)
    }
}
