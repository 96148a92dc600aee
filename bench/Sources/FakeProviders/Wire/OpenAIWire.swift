/// OpenAI Chat Completions (`POST /v1/chat/completions`), as documented in the API reference.
///
/// Streams are Server-Sent Events of `chat.completion.chunk` objects ending in `data: [DONE]`;
/// tool calls stream as a header delta (`index`, `id`, `type`, `function.name`, empty arguments)
/// followed by argument fragments. Errors are `{"error":{"message","type","param","code"}}`.
struct OpenAIWire: FakeWire {
    var format: FakeWireFormat { .openAI }
    var streamContentType: String { "text/event-stream; charset=utf-8" }

    private static let fingerprint = "fp_fake0001"

    func credential(in request: FakeRequest) -> String? {
        self.bearerToken(in: request)
    }

    func chatRequest(from request: FakeRequest) -> Result<FakeChat, FakeFailure> {
        guard let body = request.body, body.objectValue != nil else {
            return .failure(
                .invalidRequest(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. "
                        + "The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
                )
            )
        }
        guard let model = body["model"]?.stringValue else {
            return .failure(.invalidRequest("you must provide a model parameter"))
        }
        guard let messages = body["messages"]?.arrayValue else {
            return .failure(.invalidRequest("Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter"))
        }
        guard !messages.isEmpty else {
            return .failure(
                .invalidRequest(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                    param: "messages",
                    code: "empty_array"
                )
            )
        }
        let isStreaming = body["stream"]?.boolValue ?? false
        let lastUserMessage = messages.last { ["user", "tool"].contains($0["role"]?.stringValue) }
        return .success(
            FakeChat(
                model: model,
                isStreaming: isStreaming,
                includeUsage: isStreaming && body["stream_options"]?["include_usage"]?.boolValue == true,
                maxTokens: body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue,
                lastUserText: Self.text(of: lastUserMessage?["content"]),
                promptTokens: messages.reduce(0) { $0 + FakeAnswer.wordCount(Self.text(of: $1["content"])) }
            )
        )
    }

    /// Message content: a string, or an array of parts whose `text` parts are joined.
    static func text(of content: FakeJSON?) -> String {
        if let text = content?.stringValue { return text }
        let parts = content?.arrayValue ?? []
        return parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
    }

    func errorReply(_ failure: FakeFailure) -> FakeHTTPReply {
        let status: Int
        let message: String
        var type = "invalid_request_error"
        var param: String?
        var code: String?
        var retryAfter: Int?
        switch failure {
        case .missingCredential:
            status = 401
            message =
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
                + "(i.e. Authorization: Bearer YOUR_KEY)."
        case .invalidCredential:
            status = 401
            message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
            code = "invalid_api_key"
        case .invalidRequest(let text, let failingParam, let failureCode):
            status = 400
            message = text
            param = failingParam
            code = failureCode
        case .unknownModel(let model):
            status = 404
            message = "The model `\(model)` does not exist or you do not have access to it."
            code = "model_not_found"
        case .overloaded(let text):
            status = 500
            message = text ?? Self.defaultMessage(status: 500)
            type = "server_error"
        case .status(let scripted, let text, let seconds):
            status = scripted
            message = text ?? Self.defaultMessage(status: scripted)
            retryAfter = seconds
            switch scripted {
            case 401: code = "invalid_api_key"
            case 404: code = "model_not_found"
            case 429:
                type = "requests"
                code = "rate_limit_exceeded"
            case 500...: type = "server_error"
            default: break
            }
        }
        let body: FakeJSON = [
            "error": [
                "message": .string(message),
                "type": .string(type),
                "param": param.map(FakeJSON.string) ?? .null,
                "code": code.map(FakeJSON.string) ?? .null,
            ]
        ]
        return FakeHTTPReply(status: status, json: body, retryAfter: retryAfter, headers: self.responseHeaders())
    }

    private static func defaultMessage(status: Int) -> String {
        switch status {
        case 400: "Invalid request."
        case 401: "Incorrect API key provided."
        case 403: "You are not allowed to sample from this model."
        case 404: "The model does not exist or you do not have access to it."
        case 429: "Rate limit reached for requests. Please try again later."
        case 503: "The engine is currently overloaded, please try again later."
        case 500...: "The server had an error while processing your request. Sorry about that!"
        default: "Request failed with status \(status)."
        }
    }

    func completion(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> FakeJSON {
        let calls = Self.identified(answer.toolCalls)
        var message: FakeJSON.Object = [
            "role": "assistant",
            "content": answer.text.isEmpty && !calls.isEmpty ? .null : .string(answer.text),
        ]
        if !calls.isEmpty {
            message["tool_calls"] = .array(
                calls.map { call in
                    [
                        "id": .string(call.id ?? ""),
                        "type": "function",
                        "function": ["name": .string(call.name), "arguments": .string(call.argumentsJSON)],
                    ]
                }
            )
        }
        message["refusal"] = .null
        message["annotations"] = []
        return [
            "id": .string(FakeIdentifier.make("chatcmpl-", length: 29)),
            "object": "chat.completion",
            "created": .number(Double(stamp.created)),
            "model": .string(chat.model),
            "choices": [
                [
                    "index": 0,
                    "message": .object(message),
                    "logprobs": .null,
                    "finish_reason": Self.finishReason(answer.finish),
                ]
            ],
            "usage": Self.usage(answer),
            "service_tier": "default",
            "system_fingerprint": .string(Self.fingerprint),
        ]
    }

    func streamFrames(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> [FakeFrame] {
        // Every chunk of a stream shares its envelope; write it once and splice in the choices.
        let envelope: FakeJSON = [
            "id": .string(FakeIdentifier.make("chatcmpl-", length: 29)),
            "object": "chat.completion.chunk",
            "created": .number(Double(stamp.created)),
            "model": .string(chat.model),
            "service_tier": "default",
            "system_fingerprint": .string(Self.fingerprint),
        ]
        let head = "data: " + envelope.jsonText.dropLast() + ",\"choices\":"
        func chunk(_ choices: FakeJSON, _ place: FakeFrame.Place, usage: FakeJSON = .null) -> FakeFrame {
            let tail = chat.includeUsage ? ",\"usage\":" + usage.jsonText + "}\n\n" : "}\n\n"
            return FakeFrame(place: place, text: head + choices.jsonText + tail)
        }
        func choice(_ delta: FakeJSON, finish: FakeJSON = .null) -> FakeJSON {
            [["index": 0, "delta": delta, "logprobs": .null, "finish_reason": finish]]
        }
        func header(_ index: Int, _ call: FakeToolCall) -> FakeJSON {
            [
                "index": .number(Double(index)),
                "id": .string(call.id ?? ""),
                "type": "function",
                "function": ["name": .string(call.name), "arguments": ""],
            ]
        }

        let calls = Self.identified(answer.toolCalls)
        // A tool-only answer opens with the first call's header in the role chunk and `content: null`,
        // as the API does; an answer with text opens with empty content.
        let opensWithCall = answer.text.isEmpty && !calls.isEmpty
        var frames: [FakeFrame] = []
        if opensWithCall {
            frames.append(chunk(choice(["role": "assistant", "content": .null, "tool_calls": [header(0, calls[0])], "refusal": .null]), .opening))
        } else {
            frames.append(chunk(choice(["role": "assistant", "content": "", "refusal": .null]), .opening))
        }
        for piece in answer.textChunks {
            frames.append(chunk(choice(["content": .string(piece)]), .chunk))
        }
        for (index, call) in calls.enumerated() {
            if index > 0 || !opensWithCall {
                frames.append(chunk(choice(["tool_calls": [header(index, call)]]), .between))
            }
            for fragment in FakeAnswer.split(call.argumentsJSON, into: answer.chunkCount) {
                let delta: FakeJSON = ["tool_calls": [["index": .number(Double(index)), "function": ["arguments": .string(fragment)]]]]
                frames.append(chunk(choice(delta), .chunk))
            }
        }
        frames.append(chunk(choice([:], finish: Self.finishReason(answer.finish)), .closing))
        if chat.includeUsage {
            frames.append(chunk([], .closing, usage: Self.usage(answer)))
        }
        frames.append(FakeFrame(place: .closing, text: "data: [DONE]\n\n"))
        return frames
    }

    func streamErrorFrame(message: String?) -> FakeFrame {
        let body: FakeJSON = [
            "error": [
                "message": .string(message ?? Self.defaultMessage(status: 500)),
                "type": "server_error",
                "param": .null,
                "code": .null,
            ]
        ]
        return .data(body, .closing)
    }

    func malformedBody(chat: FakeChat, stamp: FakeStamp) -> String {
        let id = FakeIdentifier.make("chatcmpl-", length: 29)
        let start = #"{"id":"\#(id)","object":"chat.completion\#(chat.isStreaming ? ".chunk" : "")","created":\#(stamp.created),"#
        guard chat.isStreaming else {
            return start + #""model":"\#(chat.model)","choices":[{"index":0,"message":{"role":"assistant","content":"unterminated"#
        }
        return "data: " + start + #""choices":[{"index":0,"delta":{"content":"unterminated"# + "\n\ndata: [DONE]\n\n"
    }

    func modelList(_ models: [String], stamp: FakeStamp) -> FakeJSON {
        [
            "object": "list",
            "data": .array(
                models.map { ["id": .string($0), "object": "model", "created": .number(Double(stamp.created)), "owned_by": "system"] }
            ),
        ]
    }

    func responseHeaders() -> [(name: String, value: String)] {
        [("x-request-id", FakeIdentifier.make("req_", length: 32))]
    }

    private static func identified(_ calls: [FakeToolCall]) -> [FakeToolCall] {
        calls.map { call in
            var call = call
            call.id = call.id ?? FakeIdentifier.make("call_", length: 24)
            return call
        }
    }

    private static func finishReason(_ finish: FakeAnswer.Finish) -> FakeJSON {
        switch finish {
        case .stop: "stop"
        case .toolCalls: "tool_calls"
        case .length: "length"
        }
    }

    private static func usage(_ answer: FakeAnswer) -> FakeJSON {
        [
            "prompt_tokens": .number(Double(answer.promptTokens)),
            "completion_tokens": .number(Double(answer.completionTokens)),
            "total_tokens": .number(Double(answer.promptTokens + answer.completionTokens)),
            "prompt_tokens_details": ["cached_tokens": 0, "audio_tokens": 0],
            "completion_tokens_details": [
                "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            ],
        ]
    }
}
