import Foundation

/// What the agent asks of one model.
public struct ModelRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var tools: [ToolDefinition]
    public var maxTokens: Int
    public var stream: Bool
    /// Whether and which tool the model must call. Nil: the provider's `tool_choice` setting on the first call
    /// of a turn (`firstRound`), nothing (the server's default, `auto`) on later calls.
    public var toolChoice: ToolChoice?
    /// The first model call of an agent turn: a configured `tool_choice` such as `required` applies to it only, so
    /// a forced call is followed by an answer rather than by calls until `agent.max_tool_iterations`. False for a
    /// caller's own tools on `/v1`: the provider's setting names the gateway's tools, not the caller's.
    public var firstRound: Bool
    public var sampling: Sampling

    public init(
        model: String, messages: [ChatMessage], tools: [ToolDefinition] = [], maxTokens: Int = 2048, stream: Bool = true, toolChoice: ToolChoice? = nil,
        firstRound: Bool = true, sampling: Sampling = Sampling()
    ) {
        self.model = model
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.stream = stream
        self.toolChoice = toolChoice
        self.firstRound = firstRound
        self.sampling = sampling
    }

    /// The tool choice to send: the request's own, else `configured` on a turn's first call (a forced tool only when
    /// it is among the tools offered, so a sender the tool rules keep from it is not forced to call it); nil
    /// without tools.
    func effectiveToolChoice(configured: ToolChoice?) -> ToolChoice? {
        guard !tools.isEmpty else { return nil }
        if let toolChoice { return toolChoice }
        guard firstRound, let configured else { return nil }
        if case .function(let name) = configured, !tools.contains(where: { $0.name == name }) { return nil }
        return configured
    }
}

/// OpenAI's `tool_choice`: `auto`, `none`, `required`, or one function by name.
public enum ToolChoice: Sendable, Equatable {
    case auto, none, required
    case function(String)

    /// `auto`, `none`, `required`, or a tool's name (as in `providers.<name>.tool_choice`); nil for empty text.
    public init?(setting: String) {
        switch setting {
        case "": return nil
        case "auto": self = .auto
        case "none": self = .none
        case "required": self = .required
        default: self = .function(setting)
        }
    }
}

/// Generation parameters a caller of `/v1/chat/completions` set; nil leaves the server's default.
public struct Sampling: Sendable, Equatable {
    public var temperature: Double?
    public var topP: Double?
    public var stop: [String]
    public var seed: Int?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    /// Further OpenAI Chat Completions fields passed through verbatim to OpenAI-compatible providers
    /// (`response_format`, `logit_bias`, `parallel_tool_calls`, `top_k`, ...), never overriding the gateway's own.
    public var passthrough: [String: JSONValue]

    public init(
        temperature: Double? = nil, topP: Double? = nil, stop: [String] = [], seed: Int? = nil, presencePenalty: Double? = nil,
        frequencyPenalty: Double? = nil, passthrough: [String: JSONValue] = [:]
    ) {
        self.temperature = temperature
        self.topP = topP
        self.stop = stop
        self.seed = seed
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.passthrough = passthrough
    }

    /// The parameters that are set, under Chat Completions' names (Ollama's `options` use the same ones).
    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        if let temperature { fields["temperature"] = .number(temperature) }
        if let topP { fields["top_p"] = .number(topP) }
        if !stop.isEmpty { fields["stop"] = .array(stop.map(JSONValue.string)) }
        if let seed { fields["seed"] = .number(Double(seed)) }
        if let presencePenalty { fields["presence_penalty"] = .number(presencePenalty) }
        if let frequencyPenalty { fields["frequency_penalty"] = .number(frequencyPenalty) }
        return fields
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
