/// Anthropic Messages (`POST /v1/messages`), as documented in the API reference.
///
/// Requests need `x-api-key`, `anthropic-version` and `max_tokens`. Streams are named Server-Sent
/// Events: `message_start`, per content block `content_block_start` / `content_block_delta`
/// (`text_delta`, `input_json_delta`) / `content_block_stop`, a `ping` after the first block start,
/// then `message_delta` (stop reason, output tokens) and `message_stop`. Errors are
/// `{"type":"error","error":{"type","message"},"request_id"}`.
struct AnthropicWire: FakeWire {
    var format: FakeWireFormat { .anthropic }
    var streamContentType: String { "text/event-stream; charset=utf-8" }

    func credential(in request: FakeRequest) -> String? {
        // The API also takes OAuth tokens as `Authorization: Bearer`.
        request.header("x-api-key") ?? self.bearerToken(in: request)
    }

    func checkHeaders(of request: FakeRequest) -> FakeFailure? {
        request.header("anthropic-version") == nil ? .invalidRequest("anthropic-version: header is required") : nil
    }

    func chatRequest(from request: FakeRequest) -> Result<FakeChat, FakeFailure> {
        guard let body = request.body, body.objectValue != nil else {
            return .failure(.invalidRequest("There was an issue with your request body: it is not valid JSON"))
        }
        guard let model = body["model"]?.stringValue else {
            return .failure(.invalidRequest("model: Field required"))
        }
        guard let maxTokensField = body["max_tokens"] else {
            return .failure(.invalidRequest("max_tokens: Field required"))
        }
        guard let maxTokens = maxTokensField.intValue, maxTokens >= 1 else {
            return .failure(.invalidRequest("max_tokens: Input should be a valid integer greater than or equal to 1"))
        }
        guard let messages = body["messages"]?.arrayValue else {
            return .failure(.invalidRequest("messages: Field required"))
        }
        let lastUserMessage = messages.last { $0["role"]?.stringValue == "user" }
        let promptWords = messages.reduce(FakeAnswer.wordCount(Self.text(of: body["system"]))) {
            $0 + FakeAnswer.wordCount(Self.text(of: $1["content"]))
        }
        return .success(
            FakeChat(
                model: model,
                isStreaming: body["stream"]?.boolValue ?? false,
                maxTokens: maxTokens,
                lastUserText: Self.text(of: lastUserMessage?["content"]),
                promptTokens: promptWords
            )
        )
    }

    /// Content (or `system`): a string, or blocks whose `text` blocks and `tool_result` contents are
    /// joined with newlines.
    static func text(of content: FakeJSON?) -> String {
        if let text = content?.stringValue { return text }
        let blocks = content?.arrayValue ?? []
        return blocks.compactMap { block -> String? in
            switch block["type"]?.stringValue {
            case "text": block["text"]?.stringValue
            case "tool_result": Self.text(of: block["content"])
            default: nil
            }
        }.joined(separator: "\n")
    }

    func errorReply(_ failure: FakeFailure) -> FakeHTTPReply {
        let status: Int
        let message: String
        var retryAfter: Int?
        switch failure {
        case .missingCredential:
            status = 401
            message = "x-api-key header is required"
        case .invalidCredential:
            status = 401
            message = "invalid x-api-key"
        case .invalidRequest(let text, _, _):
            status = 400
            message = text
        case .unknownModel(let model):
            status = 404
            message = "model: \(model)"
        case .overloaded(let text):
            status = 529
            message = text ?? Self.defaultMessage(status: 529)
        case .status(let scripted, let text, let seconds):
            status = scripted
            message = text ?? Self.defaultMessage(status: scripted)
            retryAfter = seconds
        }
        let requestID = FakeIdentifier.make("req_011C", length: 20)
        let body: FakeJSON = [
            "type": "error",
            "error": ["type": .string(Self.errorType(status: status)), "message": .string(message)],
            "request_id": .string(requestID),
        ]
        return FakeHTTPReply(status: status, json: body, retryAfter: retryAfter, headers: [("request-id", requestID)])
    }

    private static func errorType(status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 402: "billing_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 504: "timeout_error"
        case 529: "overloaded_error"
        case 500...: "api_error"
        default: "invalid_request_error"
        }
    }

    private static func defaultMessage(status: Int) -> String {
        switch status {
        case 400: "Invalid request"
        case 401: "invalid x-api-key"
        case 403: "Your API key does not have permission to use the specified resource."
        case 404: "Not found"
        case 413: "Request exceeds the maximum allowed number of bytes."
        case 429: "Number of requests has exceeded your rate limit. Please try again later."
        case 529: "Overloaded"
        case 500...: "Internal server error"
        default: "Request failed with status \(status)."
        }
    }

    /// The blocks of an answer: text first (always present when there is no tool call), then calls.
    private enum Block {
        case text(String)
        case toolUse(FakeToolCall)
    }

    private static func blocks(of answer: FakeAnswer) -> [Block] {
        var blocks: [Block] = []
        if !answer.text.isEmpty || answer.toolCalls.isEmpty {
            blocks.append(.text(answer.text))
        }
        for call in answer.toolCalls {
            var call = call
            call.id = call.id ?? FakeIdentifier.make("toolu_01", length: 22)
            blocks.append(.toolUse(call))
        }
        return blocks
    }

    func completion(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> FakeJSON {
        let content: [FakeJSON] = Self.blocks(of: answer).map { block in
            switch block {
            case .text(let text):
                ["type": "text", "text": .string(text)]
            case .toolUse(let call):
                ["type": "tool_use", "id": .string(call.id ?? ""), "name": .string(call.name), "input": call.argumentsObject]
            }
        }
        return [
            "id": .string(FakeIdentifier.make("msg_01", length: 22)),
            "type": "message",
            "role": "assistant",
            "model": .string(chat.model),
            "content": .array(content),
            "stop_reason": Self.stopReason(answer.finish),
            "stop_sequence": .null,
            "usage": Self.usage(input: answer.promptTokens, output: answer.completionTokens),
        ]
    }

    func streamFrames(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> [FakeFrame] {
        let message: FakeJSON = [
            "id": .string(FakeIdentifier.make("msg_01", length: 22)),
            "type": "message",
            "role": "assistant",
            "model": .string(chat.model),
            "content": [],
            "stop_reason": .null,
            "stop_sequence": .null,
            "usage": Self.usage(input: answer.promptTokens, output: 1),
        ]
        var frames: [FakeFrame] = [.event("message_start", ["type": "message_start", "message": message], .opening)]
        for (index, block) in Self.blocks(of: answer).enumerated() {
            let position = FakeJSON.number(Double(index))
            let start: FakeJSON
            let deltas: [FakeJSON]
            switch block {
            case .text(let text):
                start = ["type": "text", "text": ""]
                deltas = FakeAnswer.split(text, into: answer.chunkCount).map { ["type": "text_delta", "text": .string($0)] }
            case .toolUse(let call):
                start = ["type": "tool_use", "id": .string(call.id ?? ""), "name": .string(call.name), "input": [:]]
                deltas = FakeAnswer.split(call.argumentsJSON, into: answer.chunkCount).map {
                    ["type": "input_json_delta", "partial_json": .string($0)]
                }
            }
            let blockStart: FakeJSON = ["type": "content_block_start", "index": position, "content_block": start]
            frames.append(.event("content_block_start", blockStart, index == 0 ? .opening : .between))
            if index == 0 {
                frames.append(.event("ping", ["type": "ping"], .opening))
            }
            for delta in deltas {
                frames.append(.event("content_block_delta", ["type": "content_block_delta", "index": position, "delta": delta], .chunk))
            }
            frames.append(.event("content_block_stop", ["type": "content_block_stop", "index": position], .between))
        }
        let messageDelta: FakeJSON = [
            "type": "message_delta",
            "delta": ["stop_reason": Self.stopReason(answer.finish), "stop_sequence": .null],
            "usage": ["output_tokens": .number(Double(answer.completionTokens))],
        ]
        frames.append(.event("message_delta", messageDelta, .closing))
        frames.append(.event("message_stop", ["type": "message_stop"], .closing))
        return frames
    }

    func streamErrorFrame(message: String?) -> FakeFrame {
        let body: FakeJSON = [
            "type": "error",
            "error": ["type": "overloaded_error", "message": .string(message ?? Self.defaultMessage(status: 529))],
        ]
        return .event("error", body, .closing)
    }

    func malformedBody(chat: FakeChat, stamp: FakeStamp) -> String {
        let id = FakeIdentifier.make("msg_01", length: 22)
        guard chat.isStreaming else {
            return #"{"id":"\#(id)","type":"message","role":"assistant","model":"\#(chat.model)","content":[{"type":"text","text":"unterminated"#
        }
        let start = FakeFrame.event(
            "message_start",
            [
                "type": "message_start",
                "message": [
                    "id": .string(id), "type": "message", "role": "assistant", "model": .string(chat.model), "content": [],
                    "stop_reason": .null, "stop_sequence": .null, "usage": Self.usage(input: 0, output: 1),
                ],
            ],
            .opening
        )
        return start.text
            + "event: content_block_delta\n"
            + #"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"unterminated"# + "\n\n"
            + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    }

    func modelList(_ models: [String], stamp: FakeStamp) -> FakeJSON {
        [
            "data": .array(
                models.map { ["type": "model", "id": .string($0), "display_name": .string($0), "created_at": "2025-01-01T00:00:00Z"] }
            ),
            "has_more": false,
            "first_id": models.first.map(FakeJSON.string) ?? .null,
            "last_id": models.last.map(FakeJSON.string) ?? .null,
        ]
    }

    func responseHeaders() -> [(name: String, value: String)] {
        [("request-id", FakeIdentifier.make("req_011C", length: 20))]
    }

    private static func stopReason(_ finish: FakeAnswer.Finish) -> FakeJSON {
        switch finish {
        case .stop: "end_turn"
        case .toolCalls: "tool_use"
        case .length: "max_tokens"
        }
    }

    private static func usage(input: Int, output: Int) -> FakeJSON {
        [
            "input_tokens": .number(Double(input)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": .number(Double(output)),
        ]
    }
}
