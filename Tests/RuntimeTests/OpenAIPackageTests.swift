import FakeProviders
import NIOHTTP1
import Foundation
import Testing

@testable import Runtime

/// The official `openai` Python package, unchanged, against the OpenAI-compatible API.
@Suite struct OpenAIPackageTests {
    /// The Python with `openai` installed: `scripts/test.sh` prepares it and sets SWIFTLET_TEST_PYTHON.
    static var python: String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["SWIFTLET_TEST_PYTHON"],
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/test-python/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a client script that prints one JSON object of what it saw, and returns that object.
    static func runClient(python: String, script: URL, environment: [String: String]) async throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path]
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { own, _ in own }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        async let outputRead = offPool { out.fileHandleForReading.readDataToEndOfFile() }
        async let errorsRead = offPool { String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        let (output, errors) = try await (outputRead, errorsRead)
        try await offPool { process.waitUntilExit() }
        #expect(process.terminationStatus == 0, "\(errors)")
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any], "\(errors)")
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Scripts/openai_client_check.py")

    @Test func officialPythonClientWorksStreamingAndNot() async throws {
        let python = try #require(Self.python, "run scripts/install-deps.sh --test (scripts/test.sh does) to install the openai package")
        let fake = FakeProvider()
        fake.enqueue(.toolCalls([FakeToolCall(name: "lookup", argumentsJSON: #"{"q":"swift"}"#)]), model: "m2")
        try await FakeProviderServer.withServer(fake) { server in
            let gateway = try await TestGateway.start(
                config: """
                    providers:
                      fake:
                        base_url: \(server.baseURL)/v1
                    agent:
                      models: [fake/m1]
                    api:
                      openai:
                        enabled: true
                    """)
            let seen = try await Self.runClient(python: python, script: Self.script, environment: ["BASE_URL": gateway.baseURL + "/v1", "TOKEN": gateway.controlToken])
            try await gateway.stop()

            #expect(seen["models"] as? [String] == ["swiftlet", "fake/m1"])
            let agent = try #require(seen["agent"] as? [String: Any])
            #expect(agent["object"] as? String == "chat.completion")
            #expect(agent["model"] as? String == "swiftlet")
            #expect(agent["content"] as? String == "echo: hello from python")
            #expect(agent["finish_reason"] as? String == "stop")
            #expect((agent["total_tokens"] as? Int ?? 0) > 0)
            let stream = try #require(seen["stream"] as? [String: Any])
            #expect(stream["text"] as? String == "echo: stream this please")
            #expect(stream["finish_reason"] as? String == "stop")
            #expect((stream["usage"] as? Int ?? 0) > 0)
            #expect((stream["chunks"] as? Int ?? 0) > 3)
            let call = try #require(seen["tool_call"] as? [String: Any])
            #expect(call["name"] as? String == "lookup")
            #expect((call["arguments"] as? [String: Any])?["q"] as? String == "swift")
            #expect(call["finish_reason"] as? String == "tool_calls")
            #expect(seen["unknown_model"] as? Int == 404)
            #expect(seen["bad_key"] as? Int == 401)
            // The agent path sent the persona and the gateway's tools; the model-ref path sent the caller's messages as they were.
            let agentRequest = try #require(fake.requests.first)
            #expect(agentRequest.messages.first?["role"]?.stringValue == "system")
            #expect(agentRequest.body?["tools"]?.arrayValue?.first?["function"]?["name"]?.stringValue == "current_time")
            #expect(fake.requests[1].messages.first?["content"]?.stringValue == "be brief")
        }
    }

    @Test func theAPIIsOffByDefault() async throws {
        let gateway = try await TestGateway.start()
        let reply = try await gateway.request("/v1/models", token: gateway.controlToken)
        #expect(reply.status == 404)
        #expect(reply.body.contains("api.openai.enabled"))
        try await gateway.stop()
    }

    @Test func badRequestsGetOpenAIStyleErrors() async throws {
        let gateway = try await TestGateway.start(config: "api:\n  openai:\n    enabled: true\n")
        func post(_ body: String) async throws -> TestGateway.Reply {
            try await gateway.request("/v1/chat/completions", method: .POST, token: gateway.controlToken, headers: [("content-type", "application/json")], body: body)
        }
        #expect(try await post("{not json").status == 400)
        #expect(try await post(#"{"messages":[{"role":"user","content":"x"}]}"#).status == 400)
        #expect(try await post(#"{"model":"swiftlet","messages":[]}"#).status == 400)
        #expect(try await post(#"{"model":"swiftlet","messages":[{"role":"wizard","content":"x"}]}"#).status == 400)
        let unconfigured = try await post(#"{"model":"swiftlet","messages":[{"role":"user","content":"x"}]}"#)
        #expect(unconfigured.status == 503)
        #expect(unconfigured.body.contains("no model is configured"))
        #expect(try await gateway.request("/v1/models").status == 401)
        try await gateway.stop()
    }
}
