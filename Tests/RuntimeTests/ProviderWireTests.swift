import Foundation
import NIOCore
import Testing

@testable import Runtime

/// The request body as a JSON value, so whole bodies compare exactly regardless of key order.
private func json(_ bytes: [UInt8]) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
}

private let weatherSchema: JSONValue = .object([
    "type": .string("object"),
    "properties": .object(["city": .object(["type": .string("string")])]),
    "required": .array([.string("city")]),
])

private let weatherTool = ToolDefinition(name: "get_weather", description: "Weather by city", parameters: weatherSchema)

@Suite struct OpenAIWireTests {
    @Test func encodesAConversationWithToolCallsAndToolResults() throws {
        let request = ModelRequest(
            model: "gpt-4o-mini",
            messages: [
                .system("be brief"),
                .user("weather?"),
                .assistant("", toolCalls: [ToolCall(id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}")]),
                ChatMessage(role: .tool, content: "18C", toolCallID: "call_1", toolName: "get_weather"),
                .assistant("It is 18C."),
            ],
            tools: [weatherTool], maxTokens: 512, stream: true)
        let expected: JSONValue = .object([
            "model": .string("gpt-4o-mini"),
            "max_tokens": .number(512),
            "stream": .bool(true),
            "stream_options": .object(["include_usage": .bool(true)]),
            "messages": .array([
                .object(["role": .string("system"), "content": .string("be brief")]),
                .object(["role": .string("user"), "content": .string("weather?")]),
                .object([
                    // "" rather than null beside tool calls: llama.cpp's server answers null with HTTP 500.
                    "role": .string("assistant"), "content": .string(""),
                    "tool_calls": .array([
                        .object([
                            "id": .string("call_1"), "type": .string("function"),
                            "function": .object(["name": .string("get_weather"), "arguments": .string("{\"city\":\"Paris\"}")]),
                        ])
                    ]),
                ]),
                .object(["role": .string("tool"), "tool_call_id": .string("call_1"), "content": .string("18C")]),
                .object(["role": .string("assistant"), "content": .string("It is 18C.")]),
            ]),
            "tools": .array([
                .object([
                    "type": .string("function"),
                    "function": .object(["name": .string("get_weather"), "description": .string("Weather by city"), "parameters": weatherSchema]),
                ])
            ]),
        ])
        #expect(try json(OpenAIWire.encode(request)) == expected)
    }

    @Test func nonStreamingRequestHasNoStreamOptionsAndNoToolsKey() throws {
        let body = try json(OpenAIWire.encode(ModelRequest(model: "m", messages: [.user("hi")], maxTokens: 64, stream: false)))
        #expect(
            body
                == .object([
                    "model": .string("m"), "max_tokens": .number(64), "stream": .bool(false),
                    "messages": .array([.object(["role": .string("user"), "content": .string("hi")])]),
                ]))
    }

    @Test func assistantTextBesideToolCallsIsKeptAsAString() {
        let message = OpenAIWire.message(.assistant("Checking.", toolCalls: [ToolCall(id: "c", name: "f", arguments: "{}")]))
        #expect(message["content"] == .string("Checking."))
        #expect(message["tool_calls"] != nil)
    }

    @Test func assistantWithoutToolCallsHasNoToolCallsKeyAndKeepsEmptyText() {
        let message = OpenAIWire.message(.assistant(""))
        #expect(message == .object(["role": .string("assistant"), "content": .string("")]))
    }

    @Test func decodesATextReply() throws {
        let body = #"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#
        #expect(try OpenAIWire.decodeReply(ByteBuffer(string: body)) == ModelReply(text: "Hi", usage: TokenUsage(input: 5, output: 1), finishReason: "stop"))
    }

    @Test func decodesToolCallsWithNullContent() throws {
        let body = """
            {"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
            {"type":"function","function":{"name":"current_time"}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":12,"completion_tokens":3}}
            """
        let reply = try OpenAIWire.decodeReply(ByteBuffer(string: body))
        #expect(
            reply
                == ModelReply(
                    text: "",
                    toolCalls: [
                        ToolCall(id: "call_a", name: "get_weather", arguments: "{\"city\":\"Paris\"}"),
                        ToolCall(id: "call_1", name: "current_time", arguments: "{}"),
                    ],
                    usage: TokenUsage(input: 12, output: 3), finishReason: "tool_calls"))
    }

    @Test func finishReasonIsNormalisedAndUsageDefaultsToZero() throws {
        let length = try OpenAIWire.decodeReply(ByteBuffer(string: #"{"choices":[{"message":{"content":"a"},"finish_reason":"length"}]}"#))
        #expect(length.finishReason == "length")
        #expect(length.usage == TokenUsage(input: 0, output: 0))
        let legacy = try OpenAIWire.decodeReply(ByteBuffer(string: #"{"choices":[{"message":{"content":""},"finish_reason":"function_call"}]}"#))
        #expect(legacy.finishReason == "tool_calls")
        let missing = try OpenAIWire.decodeReply(ByteBuffer(string: #"{"choices":[{"message":{"content":"a"}}]}"#))
        #expect(missing.finishReason == "stop")
    }

    @Test func replyThatIsNotACompletionIsMalformed() {
        let notJSON = #expect(throws: ProviderError.self) { try OpenAIWire.decodeReply(ByteBuffer(string: "<html>oops</html>")) }
        guard case .malformed(let reason) = notJSON else {
            Issue.record("expected malformed, got \(String(describing: notJSON))")
            return
        }
        #expect(reason.contains("<html>oops</html>"))
        let empty = #expect(throws: ProviderError.self) { try OpenAIWire.decodeReply(ByteBuffer(string: #"{"choices":[]}"#)) }
        #expect(empty == .malformed("a chat completion without choices"))
    }

    @Test func streamAssemblesContentDeltasAndTheTrailingUsageChunk() throws {
        var assembly = OpenAIWire.StreamAssembly()
        #expect(try assembly.feed(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#) == "")
        #expect(try assembly.feed(#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#) == "Hel")
        #expect(try assembly.feed(#"{"choices":[{"index":0,"delta":{"content":"lo"}}],"usage":null}"#) == "lo")
        #expect(try assembly.feed(#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#) == nil)
        #expect(try assembly.feed(#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#) == nil)
        #expect(try assembly.reply() == ModelReply(text: "Hello", usage: TokenUsage(input: 9, output: 2), finishReason: "stop"))
    }

    @Test func streamAssemblesInterleavedToolCallFragmentsByIndex() throws {
        var assembly = OpenAIWire.StreamAssembly()
        let chunks = [
            #"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"current_time","arguments":""}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}"#,
            #"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]
        for chunk in chunks { #expect(try assembly.feed(Substring(chunk)) == nil) }
        #expect(
            try assembly.reply()
                == ModelReply(
                    text: "",
                    toolCalls: [
                        ToolCall(id: "call_a", name: "get_weather", arguments: "{\"city\":\"Paris\"}"),
                        ToolCall(id: "call_b", name: "current_time", arguments: "{}"),
                    ],
                    finishReason: "tool_calls"))
    }

    @Test func toolCallWithoutAnIdGetsOneFromItsIndex() throws {
        var assembly = OpenAIWire.StreamAssembly()
        _ = try assembly.feed(#"{"choices":[{"delta":{"tool_calls":[{"index":2,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#)
        #expect(try assembly.reply().toolCalls == [ToolCall(id: "call_2", name: "f", arguments: "{}")])
    }

    @Test func streamWithoutAFinishReasonIsTruncated() throws {
        var assembly = OpenAIWire.StreamAssembly()
        _ = try assembly.feed(#"{"choices":[{"delta":{"content":"partial"}}]}"#)
        #expect(throws: ProviderError.truncated) { try assembly.reply() }
    }

    @Test func errorInsideTheStreamBecomesAnHTTPErrorOrAContextOverflow() {
        var assembly = OpenAIWire.StreamAssembly()
        #expect(throws: ProviderError.http(status: 500, type: "server_error", message: "The server is overloaded", retryAfter: nil)) {
            try assembly.feed(#"{"error":{"message":"The server is overloaded","type":"server_error","code":null}}"#)
        }
        // An overflow reported in the stream is not "the stream ended": it is not retried, and the user is told why.
        #expect(throws: ProviderError.contextOverflow("too long")) {
            try assembly.feed(#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#)
        }
    }

    @Test("context overflows are recognised in the words of OpenAI, vLLM, llama.cpp and Anthropic")
    func contextOverflowIsRecognised() {
        #expect(OpenAIWire.error(status: 400, body: #"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#, retryAfter: nil) == .contextOverflow("This model's maximum context length is 8192 tokens."))
        #expect(OpenAIWire.error(status: 400, body: #"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#, retryAfter: nil) == .contextOverflow("the request exceeds the available context size, try increasing it"))
        #expect(AnthropicWire.error(status: 400, body: #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#, retryAfter: nil) == .contextOverflow("prompt is too long: 210000 tokens > 200000 maximum"))
        #expect(OpenAIWire.error(status: 400, body: #"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","code":null}}"#, retryAfter: nil).status == 400)
        #expect(OpenAIWire.error(status: 422, body: #"{"detail":[{"loc":["body","messages"],"msg":"field required","type":"missing"}]}"#, retryAfter: nil) == .http(status: 422, type: "", message: "field required", retryAfter: nil))
    }

    @Test("tool_choice: the provider's setting on a turn's first call only; the request's own always; sampling passed through")
    func toolChoiceAndSamplingAreEncoded() throws {
        let tool = ToolDefinition(name: "lookup", description: "d", parameters: .object(["type": .string("object")]))
        var request = ModelRequest(model: "m", messages: [.user("hi")], tools: [tool], maxTokens: 64, stream: false)
        #expect(try json(OpenAIWire.encode(request, toolChoice: .required))["tool_choice"] == .string("required"))
        request.firstRound = false
        #expect(try json(OpenAIWire.encode(request, toolChoice: .required))["tool_choice"] == nil)
        request.toolChoice = .function("lookup")
        #expect(try json(OpenAIWire.encode(request, toolChoice: .required))["tool_choice"] == .object(["type": .string("function"), "function": .object(["name": .string("lookup")])]))
        request.tools = []
        #expect(try json(OpenAIWire.encode(request, toolChoice: .required))["tool_choice"] == nil, "no tools, no tool_choice")
        // A configured tool that is not offered (the caller's own tools on /v1, a sender the rules keep from it) is not forced.
        let other = ModelRequest(model: "m", messages: [.user("hi")], tools: [tool], maxTokens: 8)
        #expect(other.effectiveToolChoice(configured: .function("not_offered")) == nil)
        #expect(other.effectiveToolChoice(configured: .function("lookup")) == .function("lookup"))
        request.sampling = Sampling(temperature: 0.2, stop: ["END"], seed: 7, passthrough: ["top_k": .number(5), "model": .string("override")])
        let body = try json(OpenAIWire.encode(request))
        #expect(body["temperature"] == .number(0.2) && body["stop"] == .array([.string("END")]) && body["seed"] == .number(7) && body["top_k"] == .number(5))
        #expect(body["model"] == .string("m"), "a passed-through field never overrides the gateway's own")
        #expect(try json(AnthropicWire.encode(ModelRequest(model: "m", messages: [.user("a"), .user("b")], tools: [tool], maxTokens: 8), toolChoice: .required))["tool_choice"] == .object(["type": .string("any")]))
    }

    @Test func chunkThatIsNotJSONIsMalformed() {
        var assembly = OpenAIWire.StreamAssembly()
        #expect(throws: ProviderError.malformed("stream chunk is not JSON: {not json")) { try assembly.feed("{not json") }
    }

    @Test func errorBodyPrefersTheCodeOverTheType() {
        let body = #"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
        #expect(
            OpenAIWire.error(status: 429, body: body, retryAfter: .seconds(2))
                == .http(status: 429, type: "rate_limit_exceeded", message: "Rate limit reached for gpt-4o", retryAfter: .seconds(2)))
    }

    @Test func errorBodyWithNullCodeUsesTheType() {
        let body = #"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":null}}"#
        #expect(
            OpenAIWire.error(status: 401, body: body, retryAfter: nil)
                == .http(status: 401, type: "invalid_request_error", message: "Incorrect API key provided", retryAfter: nil))
    }

    @Test func nonJSONErrorBodyBecomesTheMessage() {
        #expect(
            OpenAIWire.error(status: 502, body: "<html>502 Bad Gateway</html>", retryAfter: nil)
                == .http(status: 502, type: "", message: "<html>502 Bad Gateway</html>", retryAfter: nil))
        #expect(OpenAIWire.error(status: 503, body: "", retryAfter: nil) == .http(status: 503, type: "", message: "no details", retryAfter: nil))
        let long = String(repeating: "x", count: 1000)
        #expect(OpenAIWire.error(status: 500, body: long, retryAfter: nil) == .http(status: 500, type: "", message: String(repeating: "x", count: 300), retryAfter: nil))
    }
}

@Suite struct AnthropicWireTests {
    @Test func encodesSystemToolUseAndMergedToolResults() throws {
        let request = ModelRequest(
            model: "claude-sonnet-4-5",
            messages: [
                .system("You are terse."),
                .user("weather in Paris and Rome?"),
                .system("Tools: get_weather."),
                .assistant(
                    "Checking.",
                    toolCalls: [
                        ToolCall(id: "toolu_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}"),
                        ToolCall(id: "toolu_2", name: "get_weather", arguments: "{\"city\":\"Rome\"}"),
                    ]),
                ChatMessage(role: .tool, content: "18C", toolCallID: "toolu_1"),
                ChatMessage(role: .tool, content: "unknown city", toolCallID: "toolu_2", isError: true),
                .assistant("Paris: 18C."),
            ],
            tools: [weatherTool], maxTokens: 1024, stream: true)
        let expected: JSONValue = .object([
            "model": .string("claude-sonnet-4-5"),
            "max_tokens": .number(1024),
            "stream": .bool(true),
            "system": .string("You are terse.\n\nTools: get_weather."),
            "messages": .array([
                .object(["role": .string("user"), "content": .string("weather in Paris and Rome?")]),
                .object([
                    "role": .string("assistant"),
                    "content": .array([
                        .object(["type": .string("text"), "text": .string("Checking.")]),
                        .object([
                            "type": .string("tool_use"), "id": .string("toolu_1"), "name": .string("get_weather"),
                            "input": .object(["city": .string("Paris")]),
                        ]),
                        .object([
                            "type": .string("tool_use"), "id": .string("toolu_2"), "name": .string("get_weather"),
                            "input": .object(["city": .string("Rome")]),
                        ]),
                    ]),
                ]),
                .object([
                    "role": .string("user"),
                    "content": .array([
                        .object(["type": .string("tool_result"), "tool_use_id": .string("toolu_1"), "content": .string("18C")]),
                        .object([
                            "type": .string("tool_result"), "tool_use_id": .string("toolu_2"), "content": .string("unknown city"),
                            "is_error": .bool(true),
                        ]),
                    ]),
                ]),
                .object(["role": .string("assistant"), "content": .array([.object(["type": .string("text"), "text": .string("Paris: 18C.")])])]),
            ]),
            "tools": .array([.object(["name": .string("get_weather"), "description": .string("Weather by city"), "input_schema": weatherSchema])]),
        ])
        #expect(try json(AnthropicWire.encode(request)) == expected)
    }

    @Test func trailingToolResultsAreFlushedAndNoSystemKeyWithoutSystemMessages() throws {
        let request = ModelRequest(
            model: "m",
            messages: [
                .user("time?"),
                .assistant("", toolCalls: [ToolCall(id: "t1", name: "current_time", arguments: "")]),
                ChatMessage(role: .tool, content: "noon", toolCallID: "t1"),
            ],
            maxTokens: 100, stream: false)
        let body = try json(AnthropicWire.encode(request))
        #expect(body["system"] == nil)
        #expect(body["tools"] == nil)
        #expect(body["stream"] == .bool(false))
        #expect(
            body["messages"]
                == .array([
                    .object(["role": .string("user"), "content": .string("time?")]),
                    .object([
                        "role": .string("assistant"),
                        "content": .array([
                            .object(["type": .string("tool_use"), "id": .string("t1"), "name": .string("current_time"), "input": .object([:])])
                        ]),
                    ]),
                    .object([
                        "role": .string("user"),
                        "content": .array([.object(["type": .string("tool_result"), "tool_use_id": .string("t1"), "content": .string("noon")])]),
                    ]),
                ]))
    }

    @Test func decodesAReplyWithTextAndToolUse() throws {
        let body = """
            {"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Let me check."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"units":"c","city":"Paris"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":7}}
            """
        #expect(
            try AnthropicWire.decodeReply(ByteBuffer(string: body))
                == ModelReply(
                    text: "Let me check.",
                    toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", arguments: "{\"city\":\"Paris\",\"units\":\"c\"}")],
                    usage: TokenUsage(input: 20, output: 7), finishReason: "tool_calls"))
    }

    @Test(arguments: [("end_turn", "stop"), ("stop_sequence", "stop"), ("tool_use", "tool_calls"), ("max_tokens", "length"), ("refusal", "refusal")])
    func decodedStopReasonIsNormalised(stopReason: String, expected: String) throws {
        let body = #"{"content":[{"type":"text","text":"a"}],"stop_reason":"\#(stopReason)"}"#
        #expect(try AnthropicWire.decodeReply(ByteBuffer(string: body)).finishReason == expected)
    }

    @Test func replyWithoutContentIsMalformed() {
        #expect(throws: ProviderError.malformed("a Messages answer without content")) {
            try AnthropicWire.decodeReply(ByteBuffer(string: #"{"type":"message"}"#))
        }
    }

    private func event(_ name: String, _ data: String) -> ServerSentEvent { ServerSentEvent(event: name, data: data) }

    private var toolStream: [ServerSentEvent] {
        [
            event(
                "message_start",
                #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#
            ),
            event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            event("ping", #"{"type": "ping"}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}"#),
            event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}"#),
            event("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
            event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}"#),
            event("message_stop", #"{"type":"message_stop"}"#),
        ]
    }

    @Test func streamAssemblesTextToolUseUsageAndStop() throws {
        var assembly = AnthropicWire.StreamAssembly()
        var texts: [String] = []
        var stops: [Int] = []
        for (index, event) in toolStream.enumerated() {
            let (text, done) = try assembly.feed(event)
            if let text { texts.append(text) }
            if done { stops.append(index) }
        }
        #expect(texts == ["Hello", " there"])
        #expect(stops == [toolStream.count - 1])
        #expect(
            try assembly.reply()
                == ModelReply(
                    text: "Hello there", toolCalls: [ToolCall(id: "toolu_9", name: "get_weather", arguments: "{\"city\":\"Paris\"}")],
                    usage: TokenUsage(input: 25, output: 15), finishReason: "tool_calls"))
    }

    @Test(arguments: [("end_turn", "stop"), ("tool_use", "tool_calls"), ("max_tokens", "length")])
    func streamedStopReasonIsNormalised(stopReason: String, expected: String) throws {
        var assembly = AnthropicWire.StreamAssembly()
        _ = try assembly.feed(event("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":0}}}"#))
        _ = try assembly.feed(event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"\#(stopReason)"},"usage":{"output_tokens":4}}"#))
        _ = try assembly.feed(event("message_stop", #"{"type":"message_stop"}"#))
        #expect(try assembly.reply() == ModelReply(text: "", usage: TokenUsage(input: 3, output: 4), finishReason: expected))
    }

    @Test func overloadedErrorEventIsA529() {
        var assembly = AnthropicWire.StreamAssembly()
        #expect(throws: ProviderError.http(status: 529, type: "overloaded_error", message: "Overloaded", retryAfter: nil)) {
            try assembly.feed(event("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        }
    }

    @Test func rateLimitErrorEventIsA429AndOtherErrorsA500() {
        var assembly = AnthropicWire.StreamAssembly()
        #expect(throws: ProviderError.http(status: 429, type: "rate_limit_error", message: "slow down", retryAfter: nil)) {
            try assembly.feed(event("error", #"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#))
        }
        #expect(throws: ProviderError.http(status: 500, type: "api_error", message: "boom", retryAfter: nil)) {
            try assembly.feed(event("error", #"{"type":"error","error":{"type":"api_error","message":"boom"}}"#))
        }
    }

    @Test func streamWithoutMessageStopIsTruncated() throws {
        var assembly = AnthropicWire.StreamAssembly()
        for event in toolStream.dropLast() { _ = try assembly.feed(event) }
        #expect(throws: ProviderError.truncated) { try assembly.reply() }
    }

    @Test func errorBodyCarriesTheAnthropicType() {
        let body = #"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#
        #expect(
            AnthropicWire.error(status: 400, body: body, retryAfter: nil)
                == .http(status: 400, type: "invalid_request_error", message: "max_tokens: too large", retryAfter: nil))
        #expect(AnthropicWire.error(status: 502, body: "bad gateway", retryAfter: .seconds(1)) == .http(status: 502, type: "", message: "bad gateway", retryAfter: .seconds(1)))
    }
}

@Suite struct OllamaWireTests {
    @Test func encodesToolCallArgumentsAsObjectsAndOptions() throws {
        let request = ModelRequest(
            model: "llama3.2:3b",
            messages: [
                .system("s"),
                .user("weather?"),
                .assistant("", toolCalls: [ToolCall(id: "call_0", name: "get_weather", arguments: "{\"city\":\"Paris\"}")]),
                ChatMessage(role: .tool, content: "18C", toolCallID: "call_0", toolName: "get_weather"),
            ],
            tools: [weatherTool], maxTokens: 256, stream: false)
        let expected: JSONValue = .object([
            "model": .string("llama3.2:3b"),
            "stream": .bool(false),
            "options": .object(["num_predict": .number(256)]),
            "messages": .array([
                .object(["role": .string("system"), "content": .string("s")]),
                .object(["role": .string("user"), "content": .string("weather?")]),
                .object([
                    "role": .string("assistant"), "content": .string(""),
                    "tool_calls": .array([.object(["function": .object(["name": .string("get_weather"), "arguments": .object(["city": .string("Paris")])])])]),
                ]),
                .object(["role": .string("tool"), "content": .string("18C"), "tool_name": .string("get_weather")]),
            ]),
            "tools": .array([
                .object([
                    "type": .string("function"),
                    "function": .object(["name": .string("get_weather"), "description": .string("Weather by city"), "parameters": weatherSchema]),
                ])
            ]),
        ])
        #expect(try json(OllamaWire.encode(request)) == expected)
    }

    @Test func streamingFlagIsSentAndToolsOmittedWhenNone() throws {
        let body = try json(OllamaWire.encode(ModelRequest(model: "m", messages: [.user("hi")], maxTokens: 10, stream: true)))
        #expect(body["stream"] == .bool(true))
        #expect(body["tools"] == nil)
        #expect(body["options"] == .object(["num_predict": .number(10)]))
    }

    @Test func streamAssemblesContentAndTheDoneLine() throws {
        var assembly = OllamaWire.StreamAssembly()
        #expect(try assembly.feed(#"{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false}"#) == "Hel")
        #expect(try assembly.feed(#"{"message":{"role":"assistant","content":"lo"},"done":false}"#) == "lo")
        #expect(!assembly.isDone)
        #expect(
            try assembly.feed(#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":5}"#)
                == "")
        #expect(assembly.isDone)
        #expect(try assembly.reply() == ModelReply(text: "Hello", usage: TokenUsage(input: 26, output: 5), finishReason: "stop"))
    }

    @Test func toolCallsMakeTheFinishReasonToolCalls() throws {
        var assembly = OllamaWire.StreamAssembly()
        _ = try assembly.feed(
            #"{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}},{"id":"x9","function":{"name":"current_time"}}]},"done":false}"#
        )
        _ = try assembly.feed(#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":2}"#)
        #expect(
            try assembly.reply()
                == ModelReply(
                    text: "",
                    toolCalls: [
                        ToolCall(id: "call_0", name: "get_weather", arguments: "{\"city\":\"Paris\"}"),
                        ToolCall(id: "x9", name: "current_time", arguments: "{}"),
                    ],
                    usage: TokenUsage(input: 1, output: 2), finishReason: "tool_calls"))
    }

    @Test func lengthDoneReasonIsKept() throws {
        var assembly = OllamaWire.StreamAssembly()
        _ = try assembly.feed(#"{"message":{"content":"abc"},"done":true,"done_reason":"length","eval_count":3}"#)
        #expect(try assembly.reply() == ModelReply(text: "abc", usage: TokenUsage(input: 0, output: 3), finishReason: "length"))
    }

    @Test func streamWithoutADoneLineIsTruncated() throws {
        var assembly = OllamaWire.StreamAssembly()
        _ = try assembly.feed(#"{"message":{"content":"abc"},"done":false}"#)
        #expect(throws: ProviderError.truncated) { try assembly.reply() }
    }

    @Test func errorLineBecomesAnHTTPError() {
        var assembly = OllamaWire.StreamAssembly()
        #expect(throws: ProviderError.http(status: 500, type: "", message: "model runner crashed", retryAfter: nil)) {
            try assembly.feed(#"{"error":"model runner crashed"}"#)
        }
    }

    @Test func lineThatIsNotJSONIsMalformed() {
        var assembly = OllamaWire.StreamAssembly()
        #expect(throws: ProviderError.malformed("stream line is not JSON: nope")) { try assembly.feed("nope") }
    }

    @Test func errorBodyMessage() {
        #expect(
            OllamaWire.error(status: 404, body: #"{"error":"model \"nope\" not found, try pulling it first"}"#, retryAfter: nil)
                == .http(status: 404, type: "", message: "model \"nope\" not found, try pulling it first", retryAfter: nil))
    }
}

@Suite struct ProviderTransportTests {
    @Test func retryAfterInSeconds() {
        #expect(ProviderTransport.retryAfter("5") == .seconds(5))
        #expect(ProviderTransport.retryAfter(" 30 ") == .seconds(30))
        #expect(ProviderTransport.retryAfter("0") == .zero)
    }

    @Test func retryAfterFractionalSeconds() {
        #expect(ProviderTransport.retryAfter("1.5") == .milliseconds(1500))
        #expect(ProviderTransport.retryAfter("0.25") == .milliseconds(250))
    }

    @Test func retryAfterAsHTTPDateIsRelativeToNow() {
        // Wed, 21 Oct 2015 07:28:00 GMT is 1_445_412_480 seconds after the epoch.
        let now = Date(timeIntervalSince1970: 1_445_412_480 - 90)
        #expect(ProviderTransport.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(90))
    }

    @Test func retryAfterDateInThePastIsZero() {
        let now = Date(timeIntervalSince1970: 1_445_412_480 + 600)
        #expect(ProviderTransport.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .zero)
    }

    @Test func retryAfterGarbageIsNil() {
        #expect(ProviderTransport.retryAfter(nil) == nil)
        #expect(ProviderTransport.retryAfter("") == nil)
        #expect(ProviderTransport.retryAfter("   ") == nil)
        #expect(ProviderTransport.retryAfter("soon") == nil)
        #expect(ProviderTransport.retryAfter("-3") == nil)
        #expect(ProviderTransport.retryAfter("21 Oct 2015") == nil)
    }

    /// A header value is remote input: an absurd number must not bring the gateway down.
    @Test func absurdlyLargeRetryAfterDoesNotTrap() async {
        await #expect(processExitsWith: .success) {
            _ = ProviderTransport.retryAfter("1e300")
            _ = ProviderTransport.retryAfter("inf")
        }
    }

    private let timeouts = ProviderTimeouts(connect: .seconds(10), firstToken: .seconds(60), idle: .seconds(30), total: .seconds(300))

    @Test func deadlineIsFirstTokenBeforeAnyChunk() {
        let before = ContinuousClock.now
        let clock = CallClock()
        let after = ContinuousClock.now
        let (deadline, phase, limit) = clock.deadline(timeouts)
        #expect(phase == "first_token")
        #expect(limit == .seconds(60))
        #expect(deadline >= before + .seconds(60) && deadline <= after + .seconds(60))
    }

    @Test func deadlineIsIdleAfterATick() {
        let clock = CallClock()
        let before = ContinuousClock.now
        clock.tick()
        let after = ContinuousClock.now
        let (deadline, phase, limit) = clock.deadline(timeouts)
        #expect(phase == "idle")
        #expect(limit == .seconds(30))
        #expect(deadline >= before + .seconds(30) && deadline <= after + .seconds(30))
    }

    @Test func deadlineIsTotalWhenThatComesSooner() {
        let short = ProviderTimeouts(connect: .seconds(1), firstToken: .seconds(60), idle: .seconds(30), total: .seconds(20))
        let clock = CallClock()
        let (_, phase, limit) = clock.deadline(short)
        #expect(phase == "total")
        #expect(limit == .seconds(20))
        clock.tick()
        let (_, tickedPhase, tickedLimit) = clock.deadline(short)
        #expect(tickedPhase == "total")
        #expect(tickedLimit == .seconds(20))
    }
}

private func http(_ status: Int) -> ProviderError { .http(status: status, type: "", message: "", retryAfter: nil) }

@Suite struct ProviderErrorTests {
    @Test(arguments: [
        (http(400), false, false),
        (http(401), false, true),
        (http(404), false, false),
        (http(408), true, false),
        (http(429), true, true),
        (http(403), false, true),
        (http(500), true, false),
        (http(503), true, true),
        (http(529), true, true),
        (ProviderError.contextOverflow("too long"), false, false),
        (ProviderError.refused("nothing listens"), false, true),
        (ProviderError.unavailable("breaker open"), false, false),
        (ProviderError.timeout(phase: "idle", after: .seconds(30)), true, true),
        (ProviderError.truncated, true, true),
        (ProviderError.malformed("x"), false, true),
        (ProviderError.connection("refused"), true, true),
        (ProviderError.notConfigured("none"), false, false),
    ])
    func classification(error: ProviderError, retryable: Bool, providerFault: Bool) {
        #expect(error.isRetryable == retryable)
        #expect(error.isProviderFault == providerFault)
    }

    @Test func retryAfterComesOnlyFromHTTPErrors() {
        #expect(ProviderError.http(status: 429, type: "", message: "", retryAfter: .seconds(3)).retryAfter == .seconds(3))
        #expect(ProviderError.timeout(phase: "total", after: .seconds(300)).retryAfter == nil)
    }

    @Test func descriptionsReadAsSentences() {
        #expect(ProviderError.http(status: 429, type: "rate_limit_exceeded", message: "slow down", retryAfter: nil).description == "HTTP 429 rate_limit_exceeded: slow down")
        #expect(ProviderError.http(status: 502, type: "", message: "bad gateway", retryAfter: nil).description == "HTTP 502: bad gateway")
        #expect(ProviderError.timeout(phase: "first_token", after: .seconds(90)).description == "timed out waiting 90s (first token)")
    }
}
