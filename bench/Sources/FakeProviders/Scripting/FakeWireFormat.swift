/// The published API a request was made in, decided by its path.
public enum FakeWireFormat: String, Sendable, Hashable, CaseIterable {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`, `GET /v1/models`.
    case openAI = "openai"
    /// Anthropic Messages: `POST /v1/messages` (and `GET /v1/models` with an `anthropic-version` header).
    case anthropic
    /// Ollama native: `POST /api/chat`, `GET /api/tags`.
    case ollama
}
