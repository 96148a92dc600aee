import Foundation
import Hummingbird
import NIOCore
import Synchronization

extension GatewayRouter {
    /// `POST /v1/chat/completions` and `GET /v1/models` in OpenAI's shapes, behind a control token
    /// (`Authorization: Bearer ...`), served only when `api.openai.enabled` is true.
    ///
    /// `model` is the agent's name (persona, gateway tools, configured models with failover) or a model
    /// ref `provider/model` (that model only; the caller's own `tools` pass through and their calls come back).
    static func addOpenAIRoutes(to router: Router<GatewayRequestContext>, state: GatewayState) {
        let api = router.group("v1").add(middleware: ControlAuthMiddleware(state: state))

        api.get("models") { _, _ in
            try OpenAIAPI.requireEnabled(state)
            let created = Int(state.startedAt.timeIntervalSince1970)
            let ids = [state.config.agent.name] + state.router.models.map(\.description)
            return JSONBody.response(.object(["object": .string("list"), "data": .array(ids.map { OpenAIAPI.model($0, created: created) })]))
        }

        api.post("chat/completions") { request, context in
            try OpenAIAPI.requireEnabled(state)
            let buffer = try await request.body.collect(upTo: state.config.gateway.maxBodySize)
            let parsed = try OpenAIAPI.parse(buffer, agentName: state.config.agent.name)
            if let ref = parsed.model, let problem = state.router.problem(with: ref) {
                throw APIError(.notFound, code: "model_not_found", message: "The model '\(ref)' does not exist: \(problem). GET /v1/models lists the choices.")
            }
            let id = "chatcmpl-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let created = Int(Date().timeIntervalSince1970)
            let modelName = parsed.model?.description ?? state.config.agent.name
            let answer: @Sendable (@escaping @Sendable (Agent.Event) async -> Void) async throws -> Agent.Outcome = { [agent = state.agent] emit in
                try await agent.answer(
                    messages: parsed.messages, model: parsed.model, clientTools: parsed.tools, requestID: id, maxTokens: parsed.maxTokens,
                    toolChoice: parsed.toolChoice, sampling: parsed.sampling, emit: emit)
            }
            guard parsed.stream else {
                let outcome = try await answer { _ in }
                if outcome.kind == .error { throw OpenAIAPI.error(outcome) }
                return JSONBody.response(OpenAIAPI.completion(id: id, created: created, model: modelName, outcome: outcome))
            }
            let (chunks, sink) = AsyncStream<JSONValue>.makeStream()
            let body = ResponseBody { writer in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let sent = SentFlag()
                        let outcome = try await answer { event in
                            switch event {
                            case .text(let text, _):
                                sent.set()
                                sink.yield(OpenAIAPI.chunk(id: id, created: created, model: modelName, delta: ["content": .string(text)], finish: nil))
                            case .retract:
                                // Text of a failed attempt already reached the caller; gluing another answer to it would corrupt it.
                                if sent.isSet {
                                    sink.yield(OpenAIAPI.streamError("the model failed in the middle of its answer; the partial answer above is incomplete", code: "provider_failed"))
                                    sink.finish()
                                }
                            }
                        }
                        if outcome.kind == .error {
                            let error = OpenAIAPI.error(outcome)
                            sink.yield(OpenAIAPI.streamError(error.message, code: error.code))
                        } else {
                            var delta: [String: JSONValue] = [:]
                            if !outcome.clientToolCalls.isEmpty { delta["tool_calls"] = OpenAIAPI.toolCalls(outcome.clientToolCalls, indexed: true) }
                            sink.yield(OpenAIAPI.chunk(id: id, created: created, model: modelName, delta: delta, finish: outcome.finishReason))
                            if parsed.includeUsage {
                                var usage = OpenAIAPI.chunk(id: id, created: created, model: modelName, delta: [:], finish: nil)
                                if case .object(var object) = usage {
                                    object["choices"] = .array([])
                                    object["usage"] = OpenAIAPI.usage(outcome.tokens)
                                    usage = .object(object)
                                }
                                sink.yield(usage)
                            }
                        }
                        sink.finish()
                    }
                    try await writer.write(OpenAIAPI.sse(OpenAIAPI.chunk(id: id, created: created, model: modelName, delta: ["role": .string("assistant"), "content": .string("")], finish: nil)))
                    for await chunk in chunks {
                        try await writer.write(OpenAIAPI.sse(chunk))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    group.cancelAll()
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
        }
    }
}

/// Pure request parsing and response shaping for the OpenAI-compatible API.
enum OpenAIAPI {
    struct Request: Sendable {
        var model: ModelRef?
        var messages: [ChatMessage]
        var tools: [ToolDefinition]
        var stream: Bool
        var includeUsage: Bool
        var maxTokens: Int?
        var toolChoice: ToolChoice?
        var sampling = Sampling()
    }

    /// Fields of a Chat Completions request forwarded as they are to OpenAI-compatible providers.
    static let passthroughFields: Set<String> = [
        "response_format", "logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls", "user", "top_k", "min_p", "repeat_penalty", "typical_p",
        "mirostat_mode", "mirostat_tau", "mirostat_eta", "grammar", "reasoning_effort",
    ]

    /// The API error for an answer no model could give: OpenAI's status and code for the kind of failure, the
    /// failure itself as the message (no chat advice: the caller is a program).
    static func error(_ outcome: Agent.Outcome) -> APIError {
        guard let failure = outcome.failure else { return APIError(.badGateway, code: outcome.code ?? "provider_failed", message: outcome.text) }
        if case .notConfigured(let reason) = failure { return APIError(.serviceUnavailable, code: "no_model", message: reason) }
        let overflow = failure.failures.compactMap { if case .contextOverflow(let message) = $0 { message } else { nil } }.first
        if let overflow {
            return APIError(.badRequest, code: "context_length_exceeded", message: "The messages do not fit the model's context: \(overflow)")
        }
        let statuses = failure.failures.compactMap(\.status)
        if !statuses.isEmpty, statuses.allSatisfy({ $0 == 429 }) {
            return APIError(.tooManyRequests, code: "rate_limit_exceeded", message: "The model provider is rate-limiting requests: \(failure)")
        }
        if failure.failures.allSatisfy({ if case .timeout = $0 { true } else { false } }) {
            return APIError(.gatewayTimeout, code: "provider_timeout", message: "No model answered in time: \(failure)")
        }
        return APIError(.badGateway, code: "provider_failed", message: "No model could answer: \(failure)")
    }

    static func requireEnabled(_ state: GatewayState) throws {
        guard state.config.openAIAPI else {
            throw APIError(.notFound, code: "api_disabled", message: "the OpenAI-compatible API is off; set api.openai.enabled: true")
        }
    }

    static func parse(_ buffer: ByteBuffer, agentName: String) throws -> Request {
        guard let body = try? JSONValue(parsing: Array(buffer.readableBytesView)), case .object = body else {
            throw APIError(.badRequest, code: "invalid_json", message: "the body is not a JSON object")
        }
        guard let model = body["model"]?.stringValue, !model.isEmpty else {
            throw APIError(.badRequest, code: "missing_model", message: "'model' is required: the agent's name (\(agentName)) or a model ref provider/model")
        }
        var ref: ModelRef?
        if model != agentName {
            guard let parsed = ModelRef(model) else {
                throw APIError(.notFound, code: "model_not_found", message: "The model '\(model)' does not exist; use '\(agentName)' or provider/model (GET /v1/models)")
            }
            ref = parsed
        }
        guard case .array(let items)? = body["messages"], !items.isEmpty else {
            throw APIError(.badRequest, code: "invalid_messages", message: "'messages' must be a non-empty array")
        }
        let messages = try items.enumerated().map { index, item in try message(item, index: index) }
        var tools: [ToolDefinition] = []
        if case .array(let list)? = body["tools"] {
            for tool in list {
                guard let function = tool["function"], let name = function["name"]?.stringValue else {
                    throw APIError(.badRequest, code: "invalid_tools", message: "each tool needs type 'function' and function.name")
                }
                tools.append(ToolDefinition(name: name, description: function["description"]?.stringValue ?? "", parameters: function["parameters"] ?? .object(["type": .string("object")])))
            }
        }
        var stream = false
        if case .bool(let value)? = body["stream"] { stream = value }
        var includeUsage = false
        if case .bool(let value)? = body["stream_options"]?["include_usage"] { includeUsage = value }
        var request = Request(model: ref, messages: messages, tools: tools, stream: stream, includeUsage: includeUsage)
        try parseParameters(body, into: &request)
        return request
    }

    /// The caller's generation parameters, checked as OpenAI checks them.
    static func parseParameters(_ body: JSONValue, into request: inout Request) throws {
        func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
            guard let value = body[key], value != .null else { return nil }
            guard case .number(let number) = value, range.contains(number) else {
                throw APIError(.badRequest, code: "invalid_\(key)", message: "'\(key)' must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
            guard let number = try number(key, in: Double(range.lowerBound)...Double(range.upperBound)) else { return nil }
            guard number.rounded() == number else { throw APIError(.badRequest, code: "invalid_\(key)", message: "'\(key)' must be an integer") }
            return Int(number)
        }
        request.maxTokens = try integer("max_completion_tokens", in: 1...1_000_000) ?? integer("max_tokens", in: 1...1_000_000)
        if let n = try integer("n", in: 1...128), n != 1 {
            throw APIError(.badRequest, code: "invalid_n", message: "'n' must be 1: the gateway returns one choice")
        }
        request.sampling.temperature = try number("temperature", in: 0...2)
        request.sampling.topP = try number("top_p", in: 0...1)
        request.sampling.presencePenalty = try number("presence_penalty", in: -2...2)
        request.sampling.frequencyPenalty = try number("frequency_penalty", in: -2...2)
        request.sampling.seed = try integer("seed", in: Int(Int32.min)...Int(Int32.max))
        switch body["stop"] {
        case nil, .null?: break
        case .string(let stop)?: request.sampling.stop = [stop]
        case .array(let items)? where items.count <= 4 && items.allSatisfy({ $0.stringValue != nil }): request.sampling.stop = items.compactMap(\.stringValue)
        default: throw APIError(.badRequest, code: "invalid_stop", message: "'stop' must be a string or an array of up to 4 strings")
        }
        switch body["tool_choice"] {
        case nil, .null?: break
        case .string(let choice)? where ["auto", "none", "required"].contains(choice): request.toolChoice = ToolChoice(setting: choice)
        case let choice? where choice["type"]?.stringValue == "function":
            guard let name = choice["function"]?["name"]?.stringValue, request.tools.contains(where: { $0.name == name }) else {
                throw APIError(.badRequest, code: "invalid_tool_choice", message: "'tool_choice' names a function that is not in 'tools'")
            }
            request.toolChoice = .function(name)
        default:
            throw APIError(.badRequest, code: "invalid_tool_choice", message: "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}")
        }
        if case .object(let fields) = body {
            for (key, value) in fields where passthroughFields.contains(key) && value != .null { request.sampling.passthrough[key] = value }
        }
    }

    static func message(_ item: JSONValue, index: Int) throws -> ChatMessage {
        let role = item["role"]?.stringValue ?? ""
        let text = content(item["content"])
        switch role {
        case "system", "developer":
            return .system(text)
        case "user":
            return .user(text)
        case "assistant":
            var calls: [ToolCall] = []
            if case .array(let list)? = item["tool_calls"] {
                calls = list.map { call in
                    ToolCall(id: call["id"]?.stringValue ?? "", name: call["function"]?["name"]?.stringValue ?? "", arguments: call["function"]?["arguments"]?.stringValue ?? "{}")
                }
            }
            return .assistant(text, toolCalls: calls)
        case "tool":
            return ChatMessage(role: .tool, content: text, toolCallID: item["tool_call_id"]?.stringValue, toolName: item["name"]?.stringValue)
        default:
            throw APIError(.badRequest, code: "invalid_messages", message: "messages[\(index)].role must be system, developer, user, assistant or tool")
        }
    }

    /// A string, or the text parts of a content array.
    static func content(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: return text
        case .array(let parts)?: return parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
        default: return ""
        }
    }

    static func model(_ id: String, created: Int) -> JSONValue {
        .object(["id": .string(id), "object": .string("model"), "created": .number(Double(created)), "owned_by": .string("swiftlet")])
    }

    static func usage(_ tokens: TokenUsage) -> JSONValue {
        .object([
            "prompt_tokens": .number(Double(tokens.input)), "completion_tokens": .number(Double(tokens.output)),
            "total_tokens": .number(Double(tokens.input + tokens.output)),
        ])
    }

    static func toolCalls(_ calls: [ToolCall], indexed: Bool) -> JSONValue {
        .array(
            calls.enumerated().map { index, call in
                var object: [String: JSONValue] = [
                    "id": .string(call.id), "type": .string("function"), "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)]),
                ]
                if indexed { object["index"] = .number(Double(index)) }
                return .object(object)
            })
    }

    static func completion(id: String, created: Int, model: String, outcome: Agent.Outcome) -> JSONValue {
        var message: [String: JSONValue] = ["role": .string("assistant"), "content": .string(outcome.text), "refusal": .null]
        if !outcome.clientToolCalls.isEmpty {
            message["tool_calls"] = toolCalls(outcome.clientToolCalls, indexed: false)
            if outcome.text.isEmpty { message["content"] = .null }
        }
        return .object([
            "id": .string(id), "object": .string("chat.completion"), "created": .number(Double(created)), "model": .string(model),
            "system_fingerprint": .null,
            "choices": .array([.object(["index": .number(0), "message": .object(message), "logprobs": .null, "finish_reason": .string(outcome.finishReason)])]),
            "usage": usage(outcome.tokens),
        ])
    }

    static func chunk(id: String, created: Int, model: String, delta: [String: JSONValue], finish: String?) -> JSONValue {
        .object([
            "id": .string(id), "object": .string("chat.completion.chunk"), "created": .number(Double(created)), "model": .string(model),
            "system_fingerprint": .null,
            "choices": .array([.object(["index": .number(0), "delta": .object(delta), "logprobs": .null, "finish_reason": finish.map(JSONValue.string) ?? .null])]),
        ])
    }

    static func streamError(_ message: String, code: String) -> JSONValue {
        .object(["error": .object(["message": .string(message), "type": .string("server_error"), "param": .null, "code": .string(code)])])
    }

    static func sse(_ value: JSONValue) -> ByteBuffer {
        ByteBuffer(string: "data: \(value.jsonText)\n\n")
    }
}

/// Whether a stream has sent text yet; set from the model's callback, read when it retracts.
private final class SentFlag: Sendable {
    private let flag = Atomic(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
