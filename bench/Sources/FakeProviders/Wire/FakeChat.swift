/// What the fake needs from a chat request, read the same way whichever API sent it.
struct FakeChat: Sendable, Equatable {
    var model: String
    var isStreaming: Bool
    /// OpenAI `stream_options.include_usage`: a usage chunk before `[DONE]`, `"usage": null` before it.
    var includeUsage = false
    /// The answer's limit in tokens (words), from `max_tokens`, `max_completion_tokens` or `num_predict`.
    var maxTokens: Int?
    /// The text of the last user-side message (user text or tool result), echoed by default.
    var lastUserText: String
    /// Words in the system prompt and all messages.
    var promptTokens: Int
    /// Ollama's "load the model" request: one with no messages.
    var isModelLoad = false
}
