import Foundation
import NIOCore
import Synchronization

/// Ollama's native chat API (`POST {base}/api/chat`), streamed as newline-delimited JSON.
struct OllamaProvider: ModelProvider {
    let settings: ProviderSettings
    let transport: ProviderTransport

    func complete(_ request: ModelRequest, onText: @escaping @Sendable (String) async -> Void) async throws -> ModelReply {
        let body = try OllamaWire.encode(request, extraBody: settings.extraBody)
        let headers = settings.bearerHeaders
        let url = settings.url("/api/chat")
        guard request.stream else {
            // Without streaming the answer is one object of the same shape as the stream's last line.
            return try await transport.postWhole(url: url, headers: headers, body: body, errorFor: OllamaWire.error, decode: { buffer in
                var assembly = OllamaWire.StreamAssembly()
                _ = try assembly.feed(String(buffer: buffer))
                return try assembly.reply()
            }, onText: onText)
        }
        let assembly = Mutex(OllamaWire.StreamAssembly())
        try await transport.postLines(url: url, headers: headers, body: body, errorFor: OllamaWire.error) { line in
            guard !line.isEmpty else { return assembly.withLock { $0.isDone } }
            let text = try assembly.withLock { try $0.feed(line) }
            if let text, !text.isEmpty { await onText(text) }
            return assembly.withLock { $0.isDone }
        }
        return try assembly.withLock { try $0.reply() }
    }
}

/// The native Ollama chat format: pure encoding and decoding.
enum OllamaWire {
    static func encode(_ request: ModelRequest, extraBody: [String: JSONValue] = [:]) throws -> [UInt8] {
        let messages: [JSONValue] = request.messages.map { message in
            var object: [String: JSONValue] = ["role": .string(message.role.rawValue), "content": .string(message.content)]
            if !message.toolCalls.isEmpty {
                object["tool_calls"] = .array(
                    message.toolCalls.map { call in
                        let arguments = (try? JSONValue(parsing: call.arguments)) ?? .object([:])
                        return .object(["function": .object(["name": .string(call.name), "arguments": arguments])])
                    })
            }
            if message.role == .tool, let name = message.toolName { object["tool_name"] = .string(name) }
            return .object(object)
        }
        var options = request.sampling.fields
        options["num_predict"] = .number(Double(request.maxTokens))
        var object = extraBody
        if case .object(let extra)? = extraBody["options"] { options = extra.merging(options) { _, own in own } }
        object["model"] = .string(request.model)
        object["messages"] = .array(messages)
        object["stream"] = .bool(request.stream)
        object["options"] = .object(options)
        if !request.tools.isEmpty { object["tools"] = OpenAIWire.tools(request.tools) }
        return Array(JSONValue.object(object).jsonText.utf8)
    }

    struct ErrorBody: Decodable { var error: String? }

    static func error(status: Int, body: String, retryAfter: Duration?) -> ProviderError {
        let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)))?.error
        if let message, ProviderError.isContextOverflow(status: status, code: "", message: message) { return .contextOverflow(message) }
        return .http(status: status, type: "", message: message ?? (body.isEmpty ? "no details" : String(body.prefix(300))), retryAfter: retryAfter)
    }

    struct Chunk: Decodable {
        struct Function: Decodable {
            var name: String?
            var arguments: JSONValue?
        }
        struct Call: Decodable {
            var id: String?
            var function: Function?
        }
        struct Message: Decodable {
            var content: String?
            var tool_calls: [Call]?
        }
        var message: Message?
        var done: Bool?
        var done_reason: String?
        var prompt_eval_count: Int?
        var eval_count: Int?
        var error: String?
    }

    struct StreamAssembly {
        private var text = ""
        private var calls: [ToolCall] = []
        private var usage = TokenUsage()
        private var doneReason: String?
        private(set) var isDone = false

        mutating func feed(_ line: String) throws -> String? {
            let chunk: Chunk
            do {
                chunk = try JSONDecoder().decode(Chunk.self, from: Data(line.utf8))
            } catch {
                throw ProviderError.malformed("stream line is not JSON: \(line.prefix(200))")
            }
            if let error = chunk.error { throw ProviderError.http(status: 500, type: "", message: error, retryAfter: nil) }
            for call in chunk.message?.tool_calls ?? [] {
                calls.append(
                    ToolCall(id: call.id ?? "call_\(calls.count)", name: call.function?.name ?? "", arguments: (call.function?.arguments ?? .object([:])).jsonText))
            }
            if chunk.done == true {
                isDone = true
                doneReason = chunk.done_reason ?? "stop"
                usage = TokenUsage(input: chunk.prompt_eval_count ?? 0, output: chunk.eval_count ?? 0)
            }
            let delta = chunk.message?.content
            if let delta { text += delta }
            return delta
        }

        func reply() throws -> ModelReply {
            guard isDone else { throw ProviderError.truncated }
            let reason = calls.isEmpty ? (doneReason == "length" ? "length" : "stop") : "tool_calls"
            return ModelReply(text: text, toolCalls: calls, usage: usage, finishReason: reason)
        }
    }
}
