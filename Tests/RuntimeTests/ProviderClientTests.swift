import FakeProviders
import Foundation
import Synchronization
import Testing

@testable import Runtime

/// Each provider client against the fake server that speaks the published wire formats.
@Suite struct ProviderClientTests {
    // Generous: the whole suite runs in parallel on two cores; the timeout tests set their own short limits.
    static let fast = ProviderTimeouts(connect: .seconds(5), firstToken: .seconds(10), idle: .seconds(10), total: .seconds(30))

    /// Runs `body` with a provider of `kind` pointed at a fake server.
    @discardableResult
    static func withProvider<T: Sendable>(
        _ kind: ProviderSettings.Kind, fake: FakeProvider = FakeProvider(), apiKey: String = "sk-test", timeouts: ProviderTimeouts = fast,
        _ body: @Sendable (any ModelProvider, FakeProvider) async throws -> T
    ) async throws -> T {
        try await FakeProviderServer.withServer(fake) { server in
            let base = kind == .openai ? server.baseURL + "/v1" : server.baseURL
            let settings = ProviderSettings(name: "p", kind: kind, baseURL: base, apiKey: apiKey, timeouts: timeouts)
            let transport = ProviderTransport.make(timeouts: timeouts, maxConnections: 4)
            defer { Task { await transport.shutdown() } }
            return try await body(ModelRouter.provider(settings, transport: transport), fake)
        }
    }

    static let kinds: [ProviderSettings.Kind] = [.openai, .anthropic, .ollama]

    @Test(arguments: kinds, [true, false])
    func textAnswerStreamsAndCountsTokens(kind: ProviderSettings.Kind, stream: Bool) async throws {
        try await Self.withProvider(kind) { provider, fake in
            let pieces = Mutex<[String]>([])
            let reply = try await provider.complete(ModelRequest(model: "m1", messages: [.system("be brief"), .user("hello there")], stream: stream)) { text in
                pieces.withLock { $0.append(text) }
            }
            #expect(reply.text == "echo: hello there")
            #expect(reply.finishReason == "stop")
            #expect(pieces.withLock { $0.joined() } == "echo: hello there")
            if stream { #expect(pieces.withLock { $0.count } > 1) }
            #expect(reply.usage.output > 0)
            #expect(reply.usage.input > 0)
            let request = try #require(fake.lastRequest)
            #expect(request.model == "m1")
            #expect(request.isStreaming == stream)
            switch kind {
            case .openai:
                #expect(request.path == "/v1/chat/completions")
                #expect(request.header("authorization") == "Bearer sk-test")
            case .anthropic:
                #expect(request.path == "/v1/messages")
                #expect(request.header("x-api-key") == "sk-test")
                #expect(request.header("anthropic-version") == AnthropicProvider.apiVersion)
                #expect(request.body?["system"]?.stringValue == "be brief")
            case .ollama:
                #expect(request.path == "/api/chat")
            }
        }
    }

    @Test(arguments: kinds, [true, false])
    func toolCallsRoundTripInEachWireFormat(kind: ProviderSettings.Kind, stream: Bool) async throws {
        let fake = FakeProvider()
        fake.enqueue(.toolCalls([FakeToolCall(name: "current_time", argumentsJSON: #"{"timezone":"UTC"}"#)]), .text("It is noon."))
        try await Self.withProvider(kind, fake: fake) { provider, fake in
            let tool = ToolDefinition(name: "current_time", description: "time", parameters: .object(["type": .string("object")]))
            let first = try await provider.complete(ModelRequest(model: "m", messages: [.user("time?")], tools: [tool], stream: stream)) { _ in }
            #expect(first.finishReason == "tool_calls")
            let call = try #require(first.toolCalls.first)
            #expect(call.name == "current_time")
            #expect(call.arguments == #"{"timezone":"UTC"}"#)
            let followUp = [
                ChatMessage.user("time?"), .assistant(first.text, toolCalls: first.toolCalls),
                ChatMessage(role: .tool, content: "12:00", toolCallID: call.id, toolName: call.name),
            ]
            let second = try await provider.complete(ModelRequest(model: "m", messages: followUp, tools: [tool], stream: stream)) { _ in }
            #expect(second.text == "It is noon.")
            let sent = try #require(fake.lastRequest?.messages)
            switch kind {
            case .openai:
                #expect(sent.last?["role"]?.stringValue == "tool")
                #expect(sent.last?["tool_call_id"]?.stringValue == call.id)
            case .anthropic:
                #expect(sent.last?["role"]?.stringValue == "user")
                #expect(sent.last?["content"]?.arrayValue?.first?["type"]?.stringValue == "tool_result")
                #expect(sent.last?["content"]?.arrayValue?.first?["tool_use_id"]?.stringValue == call.id)
            case .ollama:
                #expect(sent.last?["role"]?.stringValue == "tool")
                #expect(sent[1]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?["timezone"]?.stringValue == "UTC")
            }
        }
    }

    @Test(arguments: kinds, [400, 401, 429, 500, 529])
    func errorStatusesBecomeClassifiedErrors(kind: ProviderSettings.Kind, status: Int) async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: status, retryAfter: status == 429 ? 7 : nil))
        try await Self.withProvider(kind, fake: fake) { provider, _ in
            do {
                _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hi")])) { _ in }
                Issue.record("expected an error")
            } catch let error as ProviderError {
                guard case .http(let got, _, let message, let retryAfter) = error else {
                    Issue.record("expected an HTTP error, got \(error)")
                    return
                }
                #expect(got == status)
                #expect(!message.isEmpty)
                #expect(error.isRetryable == (status >= 429))
                if status == 429 { #expect(retryAfter == .seconds(7)) }
            }
        }
    }

    @Test(arguments: kinds)
    func wrongKeyIsAnAuthenticationError(kind: ProviderSettings.Kind) async throws {
        let fake = FakeProvider(configuration: .init(apiKey: "right"))
        try await Self.withProvider(kind, fake: fake, apiKey: "wrong") { provider, _ in
            do {
                _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hi")])) { _ in }
                Issue.record("expected an authentication error")
            } catch let error as ProviderError {
                guard case .http(status: 401, _, _, _) = error else {
                    Issue.record("expected HTTP 401, got \(error)")
                    return
                }
                #expect(!error.isRetryable)
            }
        }
    }

    @Test(arguments: kinds)
    func truncatedStreamIsDetected(kind: ProviderSettings.Kind) async throws {
        let fake = FakeProvider()
        fake.enqueue(.truncated(afterChunks: 3))
        try await Self.withProvider(kind, fake: fake) { provider, _ in
            do {
                _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hello world again")])) { _ in }
                Issue.record("expected truncation")
            } catch let error as ProviderError {
                #expect(error == .truncated, "got \(error)")
            }
        }
    }

    @Test(arguments: kinds)
    func malformedAnswerIsReported(kind: ProviderSettings.Kind) async throws {
        let fake = FakeProvider()
        fake.enqueue(.malformed, .malformed)
        try await Self.withProvider(kind, fake: fake) { provider, _ in
            for stream in [true, false] {
                do {
                    _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hi")], stream: stream)) { _ in }
                    Issue.record("expected a malformed-answer error")
                } catch let error as ProviderError {
                    guard case .malformed = error else {
                        Issue.record("expected .malformed, got \(error)")
                        continue
                    }
                }
            }
        }
    }

    @Test func hangingProviderTimesOutOnFirstToken() async throws {
        let fake = FakeProvider()
        fake.enqueue(.hang)
        let timeouts = ProviderTimeouts(connect: .seconds(2), firstToken: .milliseconds(300), idle: .seconds(1), total: .seconds(5))
        try await Self.withProvider(.openai, fake: fake, timeouts: timeouts) { provider, _ in
            await #expect(throws: ProviderError.timeout(phase: "first_token", after: .milliseconds(300))) {
                _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hi")])) { _ in }
            }
        }
    }

    @Test func stallMidStreamTimesOutOnIdle() async throws {
        let fake = FakeProvider()
        fake.enqueue(.hangAfterChunks(2))
        // A generous first-token window: on a loaded 2-core CI machine the first chunks took over 2 s once.
        let timeouts = ProviderTimeouts(connect: .seconds(5), firstToken: .seconds(15), idle: .milliseconds(300), total: .seconds(30))
        try await Self.withProvider(.anthropic, fake: fake, timeouts: timeouts) { provider, _ in
            await #expect(throws: ProviderError.timeout(phase: "idle", after: .milliseconds(300))) {
                _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("one two three four")])) { _ in }
            }
        }
    }

    @Test func unreachableProviderIsARefusalNotRetried() async throws {
        // The HTTP client would retry a refused connection until the connect timeout; the transport stops that, so
        // the router moves on at once. A connect timeout far beyond the test's patience shows it is not waited for.
        let timeouts = ProviderTimeouts(connect: .seconds(120), firstToken: .seconds(5), idle: .seconds(5), total: .seconds(200))
        let settings = ProviderSettings(name: "p", kind: .openai, baseURL: "http://127.0.0.1:\(try CommandLineTests.unusedPort())/v1", timeouts: timeouts)
        let transport = ProviderTransport.make(timeouts: timeouts, maxConnections: 1)
        let provider = ModelRouter.provider(settings, transport: transport)
        do {
            _ = try await provider.complete(ModelRequest(model: "m", messages: [.user("hi")])) { _ in }
            Issue.record("expected a refusal")
        } catch let error as ProviderError {
            #expect(!error.isRetryable)
            guard case .refused = error else {
                Issue.record("got \(error)")
                return
            }
        }
        await transport.shutdown()
    }
}
