import FakeProviders
import Foundation
import GRDB
import Synchronization
import Testing

@testable import Runtime

/// A real llama.cpp OpenAI-compatible server (llama-cpp-python, built by `scripts/install-deps.sh --test`) serving a
/// tiny model with random weights that `Tests/Scripts/make_tiny_gguf.py` writes. Its answers are gibberish: tests
/// check shapes, finish reasons, token counts and what the user receives, never words.
final class LlamaServer: @unchecked Sendable {  // Process is not Sendable; it is only signalled, from one test at a time.
    let process: Process
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Scripts")

    /// The server the suite shares, started once per test process; it stops when the process ends.
    static let shared = Task { try await LlamaServer.start() }

    /// Starts a server through `llama_server.py run`, which stops it when this process ends, however it ends.
    static func start() async throws -> LlamaServer {
        let python = try #require(OpenAIPackageTests.python, "run scripts/install-deps.sh --test (scripts/test.sh does): it builds llama-cpp-python")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            scripts.appendingPathComponent("llama_server.py").path, "run", "--model", directory.appendingPathComponent("tiny.gguf").path,
            // Queued, not cut: with the server's default a second request ends the stream of the first.
            "--interrupt-requests", "false", "--verbose", "false",
            // The tiny model's tokenizer takes about one token per character: the gateway's system prompt and tool
            // schemas need a few thousand.
            "--n-ctx", "4096", "--log", directory.appendingPathComponent("llama.log").path,
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = try await offPool { () -> String in
            var text = ""
            while !text.contains("\n") {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw WebChatProbe.Timeout(waitingFor: "the llama server's port (log: \(directory.path)/llama.log)", seen: [line])
        }
        return LlamaServer(process: process, port: port)
    }

    /// Kills the launcher, and with it the server (the kernel's parent-death signal): as abrupt as a crash.
    func kill() async throws {
        Foundation.kill(process.processIdentifier, SIGKILL)
        let process = self.process
        try await offPool { process.waitUntilExit() }
        // The server dies with its launcher; wait until its port refuses connections.
        try await SessionQueueTests.waitUntil("the llama server to die") { (try? ModelRouterTests.connects(port: self.port)) == false }
    }
}

@Suite(.serialized) struct LlamaServerTests {
    /// A gateway whose only model is the llama server's, with answers short enough to stream quickly.
    static func config(_ llama: LlamaServer, extra: String = "") -> String {
        """
        providers:
          llama:
            base_url: \(llama.baseURL)
            context_window: 4096
            first_token_timeout: 60s
        \(extra)
        agent:
          models: [llama/tiny]
          max_output_tokens: 24
        api:
          openai:
            enabled: true
        """
    }

    static func withGateway(_ config: String, tools: String? = nil, _ body: @Sendable (TestGateway) async throws -> Void) async throws {
        let workspace = try TestGateway.makeWorkspace(config: config)
        if let tools { try tools.write(to: workspace.toolsFile, atomically: true, encoding: .utf8) }
        let gateway = try await TestGateway.start(workspace: workspace)
        do {
            try await body(gateway)
        } catch {
            try? await gateway.stop()
            throw error
        }
        try await gateway.stop()
    }

    static func hops(_ gateway: TestGateway, _ id: String) async throws -> [TraceEvent] {
        await gateway.state.traces.flush()
        return try await gateway.state.store.traceEvents(messageID: id)
    }

    @Test("a web chat turn streamed from the real server: an answer, its usage counted by the gateway")
    func webChatTurn() async throws {
        let llama = try await LlamaServer.shared.value
        try await Self.withGateway(Self.config(llama)) { gateway in
            let id = try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send("hello there")
                let reply = try await chat.reply(to: id)
                #expect(reply["event"] as? String == "chat.message")
                let data = try #require(reply["data"] as? [String: Any])
                #expect(data["model"] as? String == "llama/tiny")
                #expect(!(data["text"] as? String ?? "").isEmpty)
                return id
            }
            let ends = try await Self.hops(gateway, id).filter { $0.hop == "model.end" }
            #expect(ends.count == 1)
            let detail = try #require(ends.first?.detail)
            // The server sends no usage in a stream: the gateway counts, and says so.
            #expect(detail.contains(#""usage":"estimated""#), "\(detail)")
            #expect(!detail.contains(#""input_tokens":0"#), "\(detail)")
        }
    }

    @Test("the official openai package through /v1: answers, a stream, a caller's tool round trip, a prompt over the context")
    func officialClientThroughTheAPI() async throws {
        let llama = try await LlamaServer.shared.value
        let python = try #require(OpenAIPackageTests.python)
        try await Self.withGateway(Self.config(llama)) { gateway in
            let seen = try await OpenAIPackageTests.runClient(
                python: python, script: LlamaServer.scripts.appendingPathComponent("openai_llama_check.py"),
                environment: ["BASE_URL": gateway.baseURL + "/v1", "TOKEN": gateway.controlToken, "MODEL": "llama/tiny"])

            let whole = try #require(seen["whole"] as? [String: Any])
            #expect(whole["object"] as? String == "chat.completion" && whole["content_is_str"] as? Bool == true)
            #expect(["stop", "length"].contains(whole["finish_reason"] as? String ?? ""))
            #expect((whole["completion_tokens"] as? Int ?? 0) > 0)
            let stream = try #require(seen["stream"] as? [String: Any])
            #expect(["stop", "length"].contains(stream["finish_reason"] as? String ?? ""))
            #expect((stream["prompt_tokens"] as? Int ?? 0) > 0, "usage counted by the gateway when the server streams none")
            let call = try #require(seen["tool_call"] as? [String: Any])
            #expect(call["name"] as? String == "get_time" && call["finish_reason"] as? String == "tool_calls")
            // Round two carried the assistant turn with content None: it reached the server as "" and was answered.
            let after = try #require(seen["after_tool"] as? [String: Any])
            #expect(["stop", "length"].contains(after["finish_reason"] as? String ?? ""), "\(after)")
            let tooLong = try #require(seen["too_long"] as? [String: Any])
            #expect(tooLong["status"] as? Int == 400 && tooLong["code"] as? String == "context_length_exceeded", "\(tooLong)")
            // One request that fails for its own reasons closes nobody's breaker.
            #expect(gateway.state.router.health().first { $0.name == "llama" }?.breaker == "closed")
        }
    }

    @Test("the agent's tool loop with a plugin tool: a forced call runs the tool, the next round answers")
    func toolLoopWithAPluginTool() async throws {
        let llama = try await LlamaServer.shared.value
        let tools = #"{"version": 1, "plugins": [{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "permissions": {}}]}"#
        // Only the tool under test is offered: the tiny model's tokenizer makes every schema expensive.
        let config = Self.config(llama, extra: "    tool_choice: fixture_count") + "\ntools:\n  default_allow: []\n  rules:\n    fixture_count:\n      allow: [everyone]\n"
        try await Self.withGateway(config, tools: tools) { gateway in
            try await Self.checkToolLoop(gateway, tool: "fixture_count", result: "1")
        }
    }

    @Test("the agent's tool loop with a sandboxed skill: a forced call runs the skill, the next round answers")
    func toolLoopWithASkill() async throws {
        let llama = try await LlamaServer.shared.value
        let workspace = try TestGateway.makeWorkspace(config: Self.config(llama, extra: "    tool_choice: clock"))
        for folder in [workspace.root, workspace.skillsDirectory] { chmod(folder.path, 0o755) }
        let skill = workspace.skillsDirectory.appendingPathComponent("clock")
        try FileManager.default.createDirectory(at: skill, withIntermediateDirectories: true)
        try """
            ---
            name: clock
            description: Says that the clock was read.
            runtime: shell
            entry: main.sh
            input:
              type: object
              properties: {}
            ---
            Call it to read the clock.
            """.write(to: skill.appendingPathComponent("SKILL.md"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho 'the clock says noon'\n".write(to: skill.appendingPathComponent("main.sh"), atomically: true, encoding: .utf8)
        try #"{"version": 1, "skills": [{"name": "clock", "permissions": {"timeout_seconds": 10}}]}"#.write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
        let gateway = try await TestGateway.start(workspace: workspace)
        do {
            try await Self.checkToolLoop(gateway, tool: "clock", result: "the clock says noon")
        } catch {
            try? await gateway.stop()
            throw error
        }
        try await gateway.stop()
    }

    /// Sends one message and checks two rounds: the forced call, the tool's result in the transcript, then an answer.
    static func checkToolLoop(_ gateway: TestGateway, tool: String, result: String) async throws {
        let id = try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
            let id = try await chat.send("use the tool")
            let reply = try await chat.reply(to: id)
            #expect(reply["event"] as? String == "chat.message", "\(reply)")
            return id
        }
        let hops = try await hops(gateway, id)
        #expect(hops.filter { $0.hop == "model.end" }.count == 2, "round one calls the tool, round two answers")
        #expect(hops.filter { $0.hop == "model.end" }.allSatisfy { !$0.detail.contains("error") }, "\(hops.map(\.detail))")
        let ran = try #require(hops.first { $0.hop == "tool.end" })
        #expect(ran.detail.contains(tool) && ran.detail.contains(#""error":false"#), "\(ran.detail)")
        let session = try await gateway.state.store.session(key: "webchat:dm:owner", channel: "webchat", peer: "owner")
        let rows = try await gateway.state.store.messages(sessionID: session.id, limit: 10)
        #expect(rows.map(\.role) == [.user, .tool, .assistant])
        #expect(rows[1].content.contains("→ \(result)"), "\(rows[1].content)")
    }

    @Test("a prompt over the model's context: one clear answer, not retried")
    func promptOverTheContext() async throws {
        let llama = try await LlamaServer.shared.value
        try await Self.withGateway(Self.config(llama)) { gateway in
            let id = try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let id = try await chat.send(String(repeating: "abc ", count: 2000))
                let reply = try await chat.reply(to: id)
                #expect(reply["event"] as? String == "chat.error")
                let data = try #require(reply["data"] as? [String: Any])
                #expect(data["code"] as? String == "context_overflow")
                #expect((data["message"] as? String)?.contains("too long for the model's context") == true)
                return id
            }
            #expect(try await Self.hops(gateway, id).filter { $0.hop == "model.start" }.count == 1, "an overflow is not retried")
            #expect(gateway.state.router.health().first { $0.name == "llama" }?.breaker == "closed")
        }
    }

    @Test("the server killed in the middle of a stream: the partial answer is retracted and the next model answers")
    func serverKilledMidStream() async throws {
        let llama = try await LlamaServer.start()
        try await FakeProviderServer.withServer(FakeProvider()) { fake in
            // The answer may run to 2 000 tokens and the end-of-text token is banned, so it cannot end before the kill
            // (200 tokens once finished between the first streamed text and the kill on a loaded machine).
            let config = """
                providers:
                  llama:
                    base_url: \(llama.baseURL)
                    context_window: 4096
                    extra_body: '{"logit_bias": {"288": -100}}'
                  fake:
                    base_url: \(fake.baseURL)/v1
                agent:
                  models: [llama/tiny, fake/m1]
                  max_output_tokens: 2000
                router:
                  backoff_base: 10ms
                """
            try await Self.withGateway(config) { gateway in
                try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                    let id = try await chat.send("tell me everything")
                    _ = try await chat.wait(for: "the first streamed text") { $0["event"] as? String == "chat.delta" }
                    try await llama.kill()
                    let reply = try await chat.reply(to: id)
                    let data = try #require(reply["data"] as? [String: Any])
                    #expect(data["model"] as? String == "fake/m1")
                    #expect(data["text"] as? String == "echo: tell me everything")
                    #expect(chat.received.contains { $0["event"] as? String == "chat.retract" }, "the dead stream's text is taken back")
                }
            }
        }
    }
}
