/// Ollama's native chat API (`POST /api/chat`), as documented in `docs/api.md`.
///
/// Streaming is the default (`"stream"` absent means true): newline-delimited JSON objects with
/// `"done": false`, then a final object with `"done": true`, `done_reason` and timing counters.
/// Tool calls carry their arguments as an object. Errors are `{"error":"…"}`.
struct OllamaWire: FakeWire {
    var format: FakeWireFormat { .ollama }
    var streamContentType: String { "application/x-ndjson" }

    func credential(in request: FakeRequest) -> String? {
        // Ollama itself has no keys; deployments behind a proxy use bearer tokens.
        self.bearerToken(in: request)
    }

    func chatRequest(from request: FakeRequest) -> Result<FakeChat, FakeFailure> {
        guard let body = request.body, body.objectValue != nil else {
            return .failure(.invalidRequest(request.rawBody.isEmpty ? "EOF" : "invalid JSON in request body"))
        }
        guard let model = body["model"]?.stringValue, !model.isEmpty else {
            return .failure(.invalidRequest("model is required"))
        }
        let messages = body["messages"]?.arrayValue ?? []
        let lastUserMessage = messages.last { ["user", "tool"].contains($0["role"]?.stringValue) }
        // num_predict below 1 (-1: unlimited, -2: fill the context) sets no limit.
        let numPredict = body["options"]?["num_predict"]?.intValue
        return .success(
            FakeChat(
                model: model,
                isStreaming: body["stream"]?.boolValue ?? true,
                maxTokens: numPredict.flatMap { $0 > 0 ? $0 : nil },
                lastUserText: lastUserMessage?["content"]?.stringValue ?? "",
                promptTokens: messages.reduce(0) { $0 + FakeAnswer.wordCount($1["content"]?.stringValue ?? "") },
                isModelLoad: messages.isEmpty
            )
        )
    }

    func modelMatches(requested: String, known: String) -> Bool {
        Self.tagged(requested) == Self.tagged(known)
    }

    /// A model name with its tag, `:latest` when none is given.
    private static func tagged(_ name: String) -> String {
        let base = name.split(separator: "/").last ?? Substring(name)
        return base.contains(":") ? name : name + ":latest"
    }

    func immediateReply(to chat: FakeChat, stamp: FakeStamp) -> FakeHTTPReply? {
        guard chat.isModelLoad else { return nil }
        let body: FakeJSON = [
            "model": .string(chat.model),
            "created_at": .string(stamp.createdAt),
            "message": ["role": "assistant", "content": ""],
            "done_reason": "load",
            "done": true,
        ]
        return FakeHTTPReply(status: 200, json: body)
    }

    func errorReply(_ failure: FakeFailure) -> FakeHTTPReply {
        let status: Int
        let message: String
        var retryAfter: Int?
        switch failure {
        case .missingCredential, .invalidCredential:
            status = 401
            message = "unauthorized"
        case .invalidRequest(let text, _, _):
            status = 400
            message = text
        case .unknownModel(let model):
            status = 404
            message = "model \"\(model)\" not found, try pulling it first"
        case .overloaded(let text):
            status = 500
            message = text ?? Self.defaultMessage(status: 500)
        case .status(let scripted, let text, let seconds):
            status = scripted
            message = text ?? Self.defaultMessage(status: scripted)
            retryAfter = seconds
        }
        return FakeHTTPReply(status: status, json: ["error": .string(message)], retryAfter: retryAfter)
    }

    private static func defaultMessage(status: Int) -> String {
        switch status {
        case 400: "invalid request"
        case 401: "unauthorized"
        case 404: "model not found, try pulling it first"
        case 429: "too many requests"
        case 503: "server busy, please try again.  maximum pending requests exceeded"
        case 500...: "an error was encountered while running the model"
        default: "request failed with status \(status)"
        }
    }

    func completion(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> FakeJSON {
        var message: FakeJSON.Object = ["role": "assistant", "content": .string(answer.text)]
        if !answer.toolCalls.isEmpty {
            message["tool_calls"] = Self.toolCalls(answer.toolCalls)
        }
        return Self.final(.object(message), answer: answer, chat: chat, stamp: stamp)
    }

    func streamFrames(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> [FakeFrame] {
        func line(_ message: FakeJSON) -> FakeFrame {
            .line(["model": .string(chat.model), "created_at": .string(stamp.createdAt), "message": message, "done": false], .chunk)
        }
        var frames = answer.textChunks.map { line(["role": "assistant", "content": .string($0)]) }
        if !answer.toolCalls.isEmpty {
            frames.append(line(["role": "assistant", "content": "", "tool_calls": Self.toolCalls(answer.toolCalls)]))
        }
        let final = Self.final(["role": "assistant", "content": ""], answer: answer, chat: chat, stamp: stamp)
        frames.append(.line(final, .closing))
        return frames
    }

    private static func toolCalls(_ calls: [FakeToolCall]) -> FakeJSON {
        .array(calls.map { ["function": ["name": .string($0.name), "arguments": $0.argumentsObject]] })
    }

    /// The closing object: the message (empty when streamed), done reason and counters.
    private static func final(_ message: FakeJSON, answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> FakeJSON {
        let total = max(stamp.elapsedNanoseconds, 1000)
        return [
            "model": .string(chat.model),
            "created_at": .string(stamp.createdAt),
            "message": message,
            "done_reason": answer.finish == .length ? "length" : "stop",
            "done": true,
            "total_duration": .number(Double(total)),
            "load_duration": .number(Double(total / 10)),
            "prompt_eval_count": .number(Double(answer.promptTokens)),
            "prompt_eval_duration": .number(Double(total / 5)),
            "eval_count": .number(Double(answer.completionTokens)),
            "eval_duration": .number(Double(total - total / 10 - total / 5)),
        ]
    }

    func streamErrorFrame(message: String?) -> FakeFrame {
        .line(["error": .string(message ?? Self.defaultMessage(status: 500))], .closing)
    }

    func malformedBody(chat: FakeChat, stamp: FakeStamp) -> String {
        let start = #"{"model":"\#(chat.model)","created_at":"\#(stamp.createdAt)","message":{"role":"assistant","content":"unterminated"#
        guard chat.isStreaming else { return start }
        let answer = FakeAnswer(text: "", toolCalls: [], chat: chat, chunkCount: 1)
        return start + "\n" + Self.final(["role": "assistant", "content": ""], answer: answer, chat: chat, stamp: stamp).jsonText + "\n"
    }

    func modelList(_ models: [String], stamp: FakeStamp) -> FakeJSON {
        [
            "models": .array(
                models.map { name in
                    [
                        "name": .string(Self.tagged(name)),
                        "model": .string(Self.tagged(name)),
                        "modified_at": .string(stamp.createdAt),
                        "size": 2_019_393_189,
                        "digest": .string(FakeIdentifier.hex(length: 64)),
                        "details": [
                            "parent_model": "",
                            "format": "gguf",
                            "family": "llama",
                            "families": ["llama"],
                            "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M",
                        ],
                    ]
                }
            )
        ]
    }
}
