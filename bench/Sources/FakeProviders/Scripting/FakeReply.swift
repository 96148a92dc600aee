/// What the fake provider does with one chat request.
///
/// Tests queue replies on a ``FakeProvider``; each chat request consumes the first matching one.
/// With the queue empty the provider answers `.text("echo: <last user text>")`.
///
/// "Chunks" are the content deltas of a streamed answer: text fragments and tool-argument fragments.
/// Frames that open a stream (OpenAI's role chunk; Anthropic's `message_start`, first
/// `content_block_start` and `ping`) are always sent before the first chunk, and the frames that
/// close it (finish chunk, usage, `[DONE]`; `message_delta`, `message_stop`; `"done":true`) are
/// what `.truncated` and `.hangAfterChunks` withhold. A non-streaming request given one of those
/// replies receives the first half of its JSON body instead.
///
/// ```swift
/// provider.enqueue(
///     .error(status: 429, retryAfter: 1),
///     .toolCalls([FakeToolCall(name: "lookup", argumentsJSON: #"{"q":"swift"}"#)]),
///     .text("done")
/// )
/// ```
public indirect enum FakeReply: Sendable, Equatable {
    /// A normal answer with this text.
    case text(String)
    /// An answer that calls tools, optionally after some text. Finish reason `tool_calls` / `tool_use`.
    case toolCalls([FakeToolCall], text: String? = nil)
    /// An error status with a body in the API's error format and, if given, a `Retry-After` header
    /// (seconds). A nil message uses the API's usual wording for the status.
    case error(status: Int, retryAfter: Int? = nil, message: String? = nil)
    /// A stream that sends some chunks of the default answer, then the API's in-stream error
    /// (OpenAI `data: {"error":…}`, Anthropic `event: error` with `overloaded_error`, Ollama
    /// `{"error":…}`) and ends. Non-streaming requests get the matching error status
    /// (OpenAI 500, Anthropic 529, Ollama 500).
    case streamError(afterChunks: Int, message: String? = nil)
    /// Sends the headers and some chunks of the default answer, then closes the connection without
    /// the terminal frames or the final HTTP chunk.
    case truncated(afterChunks: Int)
    /// Reads the request and never answers, until the client disconnects or the server stops.
    case hang
    /// Sends the headers and some chunks of the default answer, then stalls until the client
    /// disconnects or the server stops.
    case hangAfterChunks(Int)
    /// Status 200 with a body that is not valid JSON, or a stream with one broken frame.
    case malformed
    /// Waits, then does `then`. The wait is on top of the provider's configured latency.
    case delay(Duration, then: FakeReply)
}
