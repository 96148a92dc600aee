import Foundation
import NIOCore
import Synchronization

/// Anthropic Messages (`POST {base}/v1/messages`, `x-api-key`, `anthropic-version`).
struct AnthropicProvider: ModelProvider {
    static let apiVersion = "2023-06-01"

    let settings: ProviderSettings
    let transport: ProviderTransport

    func complete(_ request: ModelRequest, onText: @escaping @Sendable (String) async -> Void) async throws -> ModelReply {
        let body = try AnthropicWire.encode(request, toolChoice: settings.toolChoice, extraBody: settings.extraBody)
        var headers = [("anthropic-version", Self.apiVersion)]
        if !settings.apiKey.isEmpty { headers.append(("x-api-key", settings.apiKey)) }
        let url = settings.url("/v1/messages")
        guard request.stream else {
            return try await transport.postWhole(url: url, headers: headers, body: body, errorFor: AnthropicWire.error, decode: AnthropicWire.decodeReply, onText: onText)
        }
        headers.append(("accept", "text/event-stream"))
        let state = Mutex((parser: ServerSentEventParser(), assembly: AnthropicWire.StreamAssembly()))
        try await transport.postLines(url: url, headers: headers, body: body, errorFor: AnthropicWire.error) { line in
            let (text, done) = try state.withLock { state -> (String?, Bool) in
                guard let event = state.parser.feed(line) else { return (nil, false) }
                return try state.assembly.feed(event)
            }
            if let text, !text.isEmpty { await onText(text) }
            return done
        }
        return try state.withLock { try $0.assembly.reply() }
    }
}

/// The Messages wire format: pure encoding and decoding.
enum AnthropicWire {
    /// Consecutive user-side content (tool results, then the messages that joined a turn, or several collected
    /// messages) becomes one user turn: the Messages API wants user and assistant to alternate.
    static func encode(_ request: ModelRequest, toolChoice configured: ToolChoice? = nil, extraBody: [String: JSONValue] = [:]) throws -> [UInt8] {
        let system = request.messages.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var messages: [JSONValue] = []
        var pendingResults: [JSONValue] = []
        func flushResults() {
            if pendingResults.count == 1, pendingResults[0]["type"]?.stringValue == "text", let text = pendingResults[0]["text"] {
                messages.append(.object(["role": .string("user"), "content": text]))
            } else if !pendingResults.isEmpty {
                messages.append(.object(["role": .string("user"), "content": .array(pendingResults)]))
            }
            pendingResults = []
        }
        for message in request.messages {
            switch message.role {
            case .system:
                continue
            case .tool:
                var block: [String: JSONValue] = [
                    "type": .string("tool_result"), "tool_use_id": .string(message.toolCallID ?? ""), "content": .string(message.content),
                ]
                if message.isError { block["is_error"] = .bool(true) }
                pendingResults.append(.object(block))
            case .user:
                pendingResults.append(.object(["type": .string("text"), "text": .string(message.content)]))
            case .assistant:
                flushResults()
                var blocks: [JSONValue] = []
                if !message.content.isEmpty { blocks.append(.object(["type": .string("text"), "text": .string(message.content)])) }
                for call in message.toolCalls {
                    let input = (try? JSONValue(parsing: call.arguments)) ?? .object([:])
                    blocks.append(.object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": input]))
                }
                messages.append(.object(["role": .string("assistant"), "content": .array(blocks)]))
            }
        }
        flushResults()
        var object = extraBody
        object["model"] = .string(request.model)
        object["max_tokens"] = .number(Double(request.maxTokens))
        object["messages"] = .array(messages)
        object["stream"] = .bool(request.stream)
        if !system.isEmpty { object["system"] = .string(system) }
        if !request.tools.isEmpty {
            object["tools"] = .array(
                request.tools.map { .object(["name": .string($0.name), "description": .string($0.description), "input_schema": $0.parameters]) })
        }
        switch request.effectiveToolChoice(configured: configured) {
        case .auto?: object["tool_choice"] = .object(["type": .string("auto")])
        case .none?: object["tool_choice"] = .object(["type": .string("none")])
        case .required?: object["tool_choice"] = .object(["type": .string("any")])
        case .function(let name)?: object["tool_choice"] = .object(["type": .string("tool"), "name": .string(name)])
        case nil: break
        }
        // The Messages API has three of them, and names the stop sequences its own way.
        let sampling = request.sampling.fields
        for (field, name) in [("temperature", "temperature"), ("top_p", "top_p"), ("stop", "stop_sequences")] {
            if let value = sampling[field] { object[name] = value }
        }
        return Array(JSONValue.object(object).jsonText.utf8)
    }

    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var type: String?
            var message: String?
        }
        var error: Detail?
    }

    static func error(status: Int, body: String, retryAfter: Duration?) -> ProviderError {
        let detail = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)))?.error
        if let message = detail?.message, ProviderError.isContextOverflow(status: status, code: detail?.type ?? "", message: message) {
            return .contextOverflow(message)
        }
        return .http(status: status, type: detail?.type ?? "", message: detail?.message ?? (body.isEmpty ? "no details" : String(body.prefix(300))), retryAfter: retryAfter)
    }

    struct Block: Decodable {
        var type: String
        var text: String?
        var id: String?
        var name: String?
        var input: JSONValue?
    }

    struct Usage: Decodable {
        var input_tokens: Int?
        var output_tokens: Int?
    }

    struct Message: Decodable {
        var content: [Block]?
        var stop_reason: String?
        var usage: Usage?
    }

    static func normalise(_ stopReason: String) -> String {
        switch stopReason {
        case "end_turn", "stop_sequence": "stop"
        case "tool_use": "tool_calls"
        case "max_tokens": "length"
        default: stopReason
        }
    }

    static func decodeReply(_ buffer: ByteBuffer) throws -> ModelReply {
        let message: Message
        do {
            message = try JSONDecoder().decode(Message.self, from: Data(buffer.readableBytesView))
        } catch {
            throw ProviderError.malformed("not a Messages answer: \(String(buffer: buffer).prefix(200))")
        }
        guard let content = message.content else { throw ProviderError.malformed("a Messages answer without content") }
        let text = content.filter { $0.type == "text" }.compactMap(\.text).joined()
        let calls = content.filter { $0.type == "tool_use" }.map { ToolCall(id: $0.id ?? "", name: $0.name ?? "", arguments: ($0.input ?? .object([:])).jsonText) }
        return ModelReply(
            text: text, toolCalls: calls,
            usage: TokenUsage(input: message.usage?.input_tokens ?? 0, output: message.usage?.output_tokens ?? 0),
            finishReason: normalise(message.stop_reason ?? "end_turn"))
    }

    struct StreamEvent: Decodable {
        struct Delta: Decodable {
            var type: String?
            var text: String?
            var partial_json: String?
            var stop_reason: String?
        }
        var type: String
        var index: Int?
        var message: Message?
        var content_block: Block?
        var delta: Delta?
        var usage: Usage?
        var error: ErrorBody.Detail?
    }

    /// Assembles the event stream: text blocks in order, tool_use blocks from their JSON fragments.
    struct StreamAssembly {
        private var text = ""
        private var blocks: [Int: (id: String, name: String, json: String)] = [:]
        private var usage = TokenUsage()
        private var stopReason: String?
        private var stopped = false

        /// Feeds one event; returns the text it adds and whether it was `message_stop`.
        mutating func feed(_ event: ServerSentEvent) throws -> (String?, Bool) {
            let decoded: StreamEvent
            do {
                decoded = try JSONDecoder().decode(StreamEvent.self, from: Data(event.data.utf8))
            } catch {
                throw ProviderError.malformed("stream event is not JSON: \(event.data.prefix(200))")
            }
            switch decoded.type {
            case "message_start":
                usage.input = decoded.message?.usage?.input_tokens ?? 0
                usage.output = decoded.message?.usage?.output_tokens ?? 0
            case "content_block_start":
                if let block = decoded.content_block, block.type == "tool_use", let index = decoded.index {
                    blocks[index] = (id: block.id ?? "", name: block.name ?? "", json: "")
                } else if let initial = decoded.content_block?.text, !initial.isEmpty {
                    text += initial
                    return (initial, false)
                }
            case "content_block_delta":
                if decoded.delta?.type == "text_delta", let delta = decoded.delta?.text {
                    text += delta
                    return (delta, false)
                }
                if decoded.delta?.type == "input_json_delta", let index = decoded.index, let fragment = decoded.delta?.partial_json {
                    blocks[index]?.json += fragment
                }
            case "message_delta":
                if let reason = decoded.delta?.stop_reason { stopReason = reason }
                if let output = decoded.usage?.output_tokens { usage.output = output }
                if let input = decoded.usage?.input_tokens, input > 0 { usage.input = input }
            case "message_stop":
                stopped = true
                return (nil, true)
            case "error":
                let type = decoded.error?.type ?? "api_error"
                let status = type == "overloaded_error" ? 529 : type == "rate_limit_error" ? 429 : 500
                throw ProviderError.http(status: status, type: type, message: decoded.error?.message ?? "error in stream", retryAfter: nil)
            default:
                break  // ping, content_block_stop, and event types added later
            }
            return (nil, false)
        }

        func reply() throws -> ModelReply {
            guard stopped else { throw ProviderError.truncated }
            let calls = blocks.sorted { $0.key < $1.key }.map { _, block in
                let input = (try? JSONValue(parsing: block.json.isEmpty ? "{}" : block.json)) ?? .object([:])
                return ToolCall(id: block.id, name: block.name, arguments: input.jsonText)
            }
            return ModelReply(text: text, toolCalls: calls, usage: usage, finishReason: AnthropicWire.normalise(stopReason ?? "end_turn"))
        }
    }
}
