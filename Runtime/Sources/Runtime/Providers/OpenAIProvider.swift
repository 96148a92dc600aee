import NIOCore
import Synchronization

/// OpenAI Chat Completions (`POST {base}/chat/completions`), spoken by OpenAI and most local and hosted
/// servers: vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, DeepSeek, OpenRouter.
struct OpenAIProvider: ModelProvider {
    let settings: ProviderSettings
    let transport: ProviderTransport

    func complete(_ request: ModelRequest, onText: @escaping @Sendable (String) async -> Void) async throws -> ModelReply {
        let body = try OpenAIWire.encode(request, toolChoice: settings.toolChoice, extraBody: settings.extraBody)
        var headers = settings.bearerHeaders
        let url = settings.url("/chat/completions")
        guard request.stream else {
            return try await transport.postWhole(url: url, headers: headers, body: body, errorFor: OpenAIWire.error, decode: OpenAIWire.decodeReply, onText: onText)
        }
        headers.append(("accept", "text/event-stream"))
        let assembly = Mutex(OpenAIWire.StreamAssembly())
        do {
            try await transport.postLines(url: url, headers: headers, body: body, errorFor: OpenAIWire.error) { line in
                guard line.hasPrefix("data:") else { return false }
                let data = line.dropFirst(5).drop(while: { $0 == " " })
                if data == "[DONE]" { return true }
                let text = try assembly.withLock { try $0.feed(Substring(data)) }
                if let text, !text.isEmpty { await onText(text) }
                return false
            }
        } catch let error as ProviderError where error.mayHideTheReason && assembly.withLock({ $0.isEmpty }) {
            // A stream that ended or broke before its first frame: llama.cpp's Python server fails that way (it resets
            // the connection, or sends an empty 200) for a prompt over its context or a template error, so the reason
            // is only told to the same request without streaming. Nothing was shown, so asking again retracts nothing;
            // a server that is really gone refuses the second request at once.
            var whole = request
            whole.stream = false
            let body = try OpenAIWire.encode(whole, toolChoice: settings.toolChoice, extraBody: settings.extraBody)
            let ask = { try await transport.postWhole(url: url, headers: settings.bearerHeaders, body: body, errorFor: OpenAIWire.error, decode: OpenAIWire.decodeReply, onText: onText) }
            do {
                return try await ask()
            } catch ProviderError.connection {
                // The server resets the connection it failed on after a clean-looking end; the pool may hand that one
                // out again. A second try gets a fresh connection.
                return try await ask()
            }
        }
        return try assembly.withLock { try $0.reply() }
    }
}

/// The Chat Completions wire format: pure encoding and decoding.
enum OpenAIWire {
    /// - Parameters:
    ///   - toolChoice: the provider's configured `tool_choice`, sent on a turn's first call unless the request has its own.
    ///   - extraBody: the provider's `extra_body` fields, under everything else.
    static func encode(_ request: ModelRequest, toolChoice configured: ToolChoice? = nil, extraBody: [String: JSONValue] = [:]) throws -> [UInt8] {
        var object = extraBody.merging(request.sampling.passthrough) { _, caller in caller }
        object["model"] = .string(request.model)
        object["messages"] = .array(request.messages.map(message))
        object["max_tokens"] = .number(Double(request.maxTokens))
        object["stream"] = .bool(request.stream)
        if request.stream { object["stream_options"] = .object(["include_usage": .bool(true)]) }
        if !request.tools.isEmpty { object["tools"] = tools(request.tools) }
        if let choice = request.effectiveToolChoice(configured: configured) { object["tool_choice"] = toolChoice(choice) }
        object.merge(request.sampling.fields) { _, own in own }
        return Array(JSONValue.object(object).jsonText.utf8)
    }

    static func toolChoice(_ choice: ToolChoice) -> JSONValue {
        switch choice {
        case .auto: .string("auto")
        case .none: .string("none")
        case .required: .string("required")
        case .function(let name): .object(["type": .string("function"), "function": .object(["name": .string(name)])])
        }
    }

    /// Function tools as Chat Completions declares them (Ollama's native API takes the same shape).
    static func tools(_ tools: [ToolDefinition]) -> JSONValue {
        .array(
            tools.map { tool in
                .object([
                    "type": .string("function"),
                    "function": .object(["name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters]),
                ])
            })
    }

    static func message(_ message: ChatMessage) -> JSONValue {
        switch message.role {
        case .system, .user:
            return .object(["role": .string(message.role.rawValue), "content": .string(message.content)])
        case .assistant:
            // Always a string: OpenAI takes "" beside tool calls, and llama.cpp's server answers 500 to null there.
            var object: [String: JSONValue] = ["role": .string("assistant"), "content": .string(message.content)]
            if !message.toolCalls.isEmpty {
                object["tool_calls"] = .array(
                    message.toolCalls.map { call in
                        .object(["id": .string(call.id), "type": .string("function"), "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)])])
                    })
            }
            return .object(object)
        case .tool:
            return .object(["role": .string("tool"), "tool_call_id": .string(message.toolCallID ?? ""), "content": .string(message.content)])
        }
    }

    /// `{"error": {"message", "type", "code"}}`, the shape of error bodies and of errors inside a stream.
    static func errorDetail(_ error: JSONValue) -> (code: String?, message: String?) {
        (error["code"]?.stringValue ?? error["type"]?.stringValue, error["message"]?.stringValue)
    }

    static func error(status: Int, body: String, retryAfter: Duration?) -> ProviderError {
        let parsed = try? JSONValue(parsing: body)
        // OpenAI and most servers nest {"error": {...}}; some (llama.cpp's Python server on validation) send {"detail": ...}.
        let detail = parsed?["error"].map(errorDetail)
        let message = detail?.message ?? parsed?["detail"].map(detailText) ?? (body.isEmpty ? "no details" : String(body.prefix(300)))
        let type = detail?.code ?? ""
        if ProviderError.isContextOverflow(status: status, code: type, message: message) { return .contextOverflow(message) }
        return .http(status: status, type: type, message: message, retryAfter: retryAfter)
    }

    /// FastAPI's `{"detail": "..."}` or `{"detail": [{"msg": ...}, ...]}`, as one line.
    static func detailText(_ detail: JSONValue) -> String {
        if let text = detail.stringValue { return text }
        if case .array(let items) = detail {
            return items.compactMap { $0["msg"]?.stringValue ?? $0.stringValue }.joined(separator: "; ")
        }
        return detail.jsonText
    }

    static func usage(_ value: JSONValue?) -> TokenUsage {
        TokenUsage(input: value?["prompt_tokens"]?.intValue ?? 0, output: value?["completion_tokens"]?.intValue ?? 0)
    }

    static func decodeReply(_ buffer: ByteBuffer) throws -> ModelReply {
        guard let completion = try? JSONValue(parsing: Array(buffer.readableBytesView)), case .object = completion else {
            throw ProviderError.malformed("not a chat completion: \(String(buffer: buffer).prefix(200))")
        }
        guard case .array(let choices)? = completion["choices"], let choice = choices.first, let message = choice["message"] else {
            throw ProviderError.malformed("a chat completion without choices")
        }
        var calls: [ToolCall] = []
        if case .array(let list)? = message["tool_calls"] {
            calls = list.enumerated().map { index, call in
                ToolCall(
                    id: call["id"]?.stringValue ?? "call_\(index)", name: call["function"]?["name"]?.stringValue ?? "",
                    arguments: call["function"]?["arguments"]?.stringValue ?? "{}")
            }
        }
        return ModelReply(
            text: message["content"]?.stringValue ?? "", toolCalls: calls, usage: usage(completion["usage"]),
            finishReason: normalise(choice["finish_reason"]?.stringValue ?? "stop"))
    }

    static func normalise(_ reason: String) -> String {
        reason == "function_call" ? "tool_calls" : reason
    }

    /// Assembles streamed chunks: text in order, tool calls from their indexed fragments.
    struct StreamAssembly {
        private var text = ""
        private var calls: [Int: (id: String, name: String, arguments: String)] = [:]
        private var usage = TokenUsage()
        private var finishReason: String?

        /// Feeds one `data:` payload; returns the text it adds.
        mutating func feed(_ data: Substring) throws -> String? {
            let chunk: JSONValue
            do {
                chunk = try JSONValue(parsing: data)
            } catch {
                throw ProviderError.malformed("stream chunk is not JSON: \(data.prefix(200))")
            }
            if let error = chunk["error"] {
                let detail = OpenAIWire.errorDetail(error)
                let message = detail.message ?? "error in stream"
                if ProviderError.isContextOverflow(status: 400, code: detail.code ?? "", message: message) { throw ProviderError.contextOverflow(message) }
                throw ProviderError.http(status: 500, type: detail.code ?? "stream_error", message: message, retryAfter: nil)
            }
            if let reported = chunk["usage"], case .object = reported { usage = OpenAIWire.usage(reported) }
            guard case .array(let choices)? = chunk["choices"], let choice = choices.first else { return nil }
            if let reason = choice["finish_reason"]?.stringValue { finishReason = OpenAIWire.normalise(reason) }
            let delta = choice["delta"]
            if case .array(let fragments)? = delta?["tool_calls"] {
                for fragment in fragments {
                    let index = fragment["index"]?.intValue ?? calls.count
                    var call = calls[index] ?? (id: "", name: "", arguments: "")
                    if let id = fragment["id"]?.stringValue { call.id = id }
                    // OpenAI sends the name in the first fragment only; llama.cpp's Python server repeats it in every one.
                    if let name = fragment["function"]?["name"]?.stringValue, name != call.name { call.name += name }
                    if let arguments = fragment["function"]?["arguments"]?.stringValue { call.arguments += arguments }
                    calls[index] = call
                }
            }
            let text = delta?["content"]?.stringValue
            if let text { self.text += text }
            return text
        }

        /// Nothing was shown and nothing finished: no text and no finish reason arrived yet (llama.cpp's Python server
        /// sends a forced call's name before it generates, and fails after it).
        var isEmpty: Bool { text.isEmpty && finishReason == nil }

        func reply() throws -> ModelReply {
            guard let finishReason else { throw ProviderError.truncated }
            let toolCalls = calls.sorted { $0.key < $1.key }.map { index, call in
                ToolCall(id: call.id.isEmpty ? "call_\(index)" : call.id, name: call.name, arguments: call.arguments.isEmpty ? "{}" : call.arguments)
            }
            return ModelReply(text: text, toolCalls: toolCalls, usage: usage, finishReason: finishReason)
        }
    }
}
