/// Which fake API endpoint a request is for, decided from its method and path alone.
enum FakeRoute: Sendable, Equatable {
    case chat(FakeWireFormat)
    case models(FakeWireFormat)
    /// Ollama `GET /api/version`.
    case ollamaVersion
    /// Ollama `GET /`, which clients probe to see whether the server is up.
    case ollamaRoot
    case unknown

    /// - Parameters:
    ///   - method: the request method, upper case.
    ///   - path: the path without query.
    ///   - isAnthropic: whether the request carries an `anthropic-version` header, which tells
    ///     Anthropic's `GET /v1/models` from OpenAI's.
    init(method: String, path: String, isAnthropic: Bool) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        switch (method, trimmed) {
        case ("POST", "/v1/chat/completions"), ("POST", "/chat/completions"): self = .chat(.openAI)
        case ("POST", "/v1/messages"): self = .chat(.anthropic)
        case ("POST", "/api/chat"): self = .chat(.ollama)
        case ("GET", "/v1/models"), ("GET", "/models"): self = .models(isAnthropic ? .anthropic : .openAI)
        case ("GET", "/api/tags"): self = .models(.ollama)
        case ("GET", "/api/version"): self = .ollamaVersion
        case ("GET", "/"), ("HEAD", "/"): self = .ollamaRoot
        default: self = .unknown
        }
    }

    /// The API the endpoint belongs to.
    var wire: FakeWireFormat? {
        switch self {
        case .chat(let wire), .models(let wire): wire
        case .ollamaVersion, .ollamaRoot: .ollama
        case .unknown: nil
        }
    }
}
