import Foundation

/// What the agent asks of one model.
public struct ModelRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var tools: [ToolDefinition]
    public var maxTokens: Int
    public var stream: Bool

    public init(model: String, messages: [ChatMessage], tools: [ToolDefinition] = [], maxTokens: Int = 2048, stream: Bool = true) {
        self.model = model
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.stream = stream
    }
}

/// A complete answer of one model call.
public struct ModelReply: Sendable, Equatable {
    /// Why the model stopped, normalised: `stop`, `tool_calls`, `length`, or the provider's own word.
    public var finishReason: String
    public var text: String
    public var toolCalls: [ToolCall]
    public var usage: TokenUsage

    public init(text: String, toolCalls: [ToolCall] = [], usage: TokenUsage = TokenUsage(), finishReason: String = "stop") {
        self.text = text
        self.toolCalls = toolCalls
        self.usage = usage
        self.finishReason = finishReason
    }
}

/// A model reference `provider/model`, such as `openai/gpt-4o-mini` or `local/llama3.2:3b`.
///
/// The provider is the entry name under `providers:`; the model is everything after the first slash
/// (model names may contain slashes themselves, as on OpenRouter: `openrouter/meta-llama/llama-3-70b`).
public struct ModelRef: Sendable, Hashable, CustomStringConvertible {
    public var provider: String
    public var model: String

    public init(provider: String, model: String) {
        self.provider = provider
        self.model = model
    }

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let slash = trimmed.firstIndex(of: "/") else { return nil }
        let provider = String(trimmed[..<slash]), model = String(trimmed[trimmed.index(after: slash)...])
        guard !provider.isEmpty, !model.isEmpty else { return nil }
        self.init(provider: provider, model: model)
    }

    public var description: String { "\(provider)/\(model)" }
}
