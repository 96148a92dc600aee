/// One configured provider: talks one wire format to one base URL.
///
/// Implementations are stateless values over a shared ``ProviderTransport``; they may be called
/// concurrently from any task. `onText` receives streamed text in order, never after the call returns.
/// Failures are ``ProviderError``s; cancellation ends the call with `CancellationError`.
public protocol ModelProvider: Sendable {
    var settings: ProviderSettings { get }
    func complete(_ request: ModelRequest, onText: @escaping @Sendable (String) async -> Void) async throws -> ModelReply
}

/// A provider's configuration (`providers.<name>.*`).
public struct ProviderSettings: Sendable, Equatable {
    public enum Kind: String, Sendable { case openai, anthropic, ollama }

    public var name: String
    public var kind: Kind
    public var baseURL: String
    public var apiKey: String
    public var contextWindow: Int
    /// `tool_choice` for the first model call of a turn that offers tools; nil sends none.
    public var toolChoice: ToolChoice?
    /// Fields added to every request body (`extra_body`); the gateway's own fields win.
    public var extraBody: [String: JSONValue]
    public var timeouts: ProviderTimeouts

    public init(
        name: String, kind: Kind, baseURL: String = "", apiKey: String = "", contextWindow: Int = 32_768, toolChoice: ToolChoice? = nil,
        extraBody: [String: JSONValue] = [:], timeouts: ProviderTimeouts = ProviderTimeouts()
    ) {
        self.extraBody = extraBody
        self.name = name
        self.kind = kind
        self.baseURL = baseURL.isEmpty ? Self.defaultBaseURL(kind) : baseURL
        self.apiKey = apiKey
        self.contextWindow = contextWindow
        self.toolChoice = toolChoice
        self.timeouts = timeouts
    }

    public static func defaultBaseURL(_ kind: Kind) -> String {
        switch kind {
        case .openai: "https://api.openai.com/v1"
        case .anthropic: "https://api.anthropic.com"
        case .ollama: "http://127.0.0.1:11434"
        }
    }

    /// `Authorization: Bearer <key>` when a key is configured (OpenAI-compatible servers, Ollama behind a proxy).
    var bearerHeaders: [(String, String)] {
        apiKey.isEmpty ? [] : [("authorization", "Bearer \(apiKey)")]
    }

    /// `base` + `path` with exactly one slash between them.
    func url(_ path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }
}

/// The four separate limits of one call.
public struct ProviderTimeouts: Sendable, Equatable {
    public var connect: Duration
    public var firstToken: Duration
    public var idle: Duration
    public var total: Duration

    public init(connect: Duration = .seconds(10), firstToken: Duration = .seconds(60), idle: Duration = .seconds(30), total: Duration = .seconds(300)) {
        self.connect = connect
        self.firstToken = firstToken
        self.idle = idle
        self.total = total
    }
}
