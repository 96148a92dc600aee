import FakeProviders
import Foundation

enum DebugHarness {
    static func curl(_ args: [String]) async -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS", "-N", "-i", "--max-time", "3"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try! p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self) + "\n[curl exit \(p.terminationStatus)]"
    }

    static func run() async throws {
        let provider = FakeProvider(configuration: .init(streamChunks: 3))
        let clock = ContinuousClock()
        let start = clock.now
        try await FakeProviderServer.withServer(provider) { server in
            let b = server.baseURL
            let oa = ["-H", "content-type: application/json", b + "/v1/chat/completions", "-d"]
            let an = ["-H", "anthropic-version: 2023-06-01", b + "/v1/messages", "-d"]
            let ol = [b + "/api/chat", "-d"]
            let call = FakeToolCall(name: "get_weather", argumentsJSON: #"{"city":"Paris","unit":"c"}"#)
            provider.enqueue(.toolCalls([call], text: "Let me check."), .toolCalls([call, FakeToolCall(name: "b", arguments: ["x": 1])]))
            print("=== openai tools nonstream"); print(await curl(oa + [#"{"model":"m","messages":[{"role":"user","content":"weather?"}]}"#]))
            print("=== openai tools stream (tool only)"); print(await curl(oa + [#"{"model":"m","stream":true,"messages":[{"role":"user","content":"weather?"}]}"#]))
            provider.enqueue(.toolCalls([call], text: "Let me check."), .toolCalls([call]))
            print("=== anthropic tools nonstream"); print(await curl(an + [#"{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"weather?"}]}"#]))
            print("=== anthropic tools stream"); print(await curl(an + [#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"weather?"}]}"#]))
            provider.enqueue(.toolCalls([call], text: "Let me check."), .toolCalls([call]))
            print("=== ollama tools stream"); print(await curl(ol + [#"{"model":"m","messages":[{"role":"user","content":"weather?"}]}"#]))
            print("=== ollama tools nonstream"); print(await curl(ol + [#"{"model":"m","stream":false,"messages":[{"role":"user","content":"weather?"}]}"#]))
            provider.enqueue(.error(status: 429, retryAfter: 7), wire: .anthropic)
            provider.enqueue(.error(status: 529), wire: .anthropic)
            provider.enqueue(.error(status: 429, retryAfter: 2, message: "slow down"), wire: .openAI)
            print("=== anthropic 429"); print(await curl(an + [#"{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"}]}"#]))
            print("=== openai 429 (anthropic queued entry skipped)"); print(await curl(oa + [#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#]))
            print("=== anthropic 529"); print(await curl(an + [#"{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"}]}"#]))
            provider.enqueue(.truncated(afterChunks: 2), .truncated(afterChunks: 1), .truncated(afterChunks: 0), .truncated(afterChunks: 1))
            print("=== openai truncated 2"); print(await curl(oa + [#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== anthropic truncated 1"); print(await curl(an + [#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== ollama truncated 0"); print(await curl(ol + [#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== openai truncated nonstream"); print(await curl(oa + [#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#]))
            provider.enqueue(.streamError(afterChunks: 1), .streamError(afterChunks: 1, message: "boom"), .streamError(afterChunks: 2), .streamError(afterChunks: 0))
            print("=== openai streamError"); print(await curl(oa + [#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== anthropic streamError"); print(await curl(an + [#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== ollama streamError"); print(await curl(ol + [#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#]))
            print("=== anthropic streamError nonstream"); print(await curl(an + [#"{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hello world"}]}"#]))
            provider.enqueue(.malformed, .malformed, .malformed, .malformed)
            print("=== openai malformed stream"); print(await curl(oa + [#"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}"#]))
            print("=== anthropic malformed"); print(await curl(an + [#"{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}"#]))
            print("=== ollama malformed"); print(await curl(ol + [#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#]))
            print("=== ollama malformed nonstream"); print(await curl(ol + [#"{"model":"m","stream":false,"messages":[{"role":"user","content":"x"}]}"#]))
            provider.enqueue(.text("one two three four five six"), .text("one two three four five six"), .text("one two three"))
            print("=== openai max_tokens 2"); print(await curl(oa + [#"{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"x"}]}"#]))
            print("=== anthropic max_tokens 3 stream"); print(await curl(an + [#"{"model":"m","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"x"}]}"#]))
            print("=== ollama num_predict 1"); print(await curl(ol + [#"{"model":"m","stream":false,"options":{"num_predict":1},"messages":[{"role":"user","content":"x"}]}"#]))
            provider.enqueue(.hang, .hangAfterChunks(1))
            let port = server.port
            func sockets() -> String {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
                p.arguments = ["-tan", "sport = :\(port)"]
                let pipe = Pipe(); p.standardOutput = pipe
                try! p.run(); let d = pipe.fileHandleForReading.readDataToEndOfFile(); p.waitUntilExit()
                return String(decoding: d, as: UTF8.self)
            }
            print("HANGCHECK", await curl(["--max-time", "1"] + oa + [#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#]).suffix(40))
            try await Task.sleep(for: .milliseconds(300))
            print("HANGCHECK sockets after hang:\n" + sockets())
            print("HANGCHECK", await curl(["--max-time", "1"] + an + [#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello world"}]}"#]).suffix(40))
            try await Task.sleep(for: .milliseconds(300))
            print("HANGCHECK sockets after hangAfterChunks:\n" + sockets())
            provider.enqueue(.delay(.milliseconds(300), then: .text("late")), .hang, .hangAfterChunks(1))
            var t = clock.now
            print("=== delay"); print(await curl(oa + [#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#])); print("took \(clock.now - t)")
            t = clock.now
            print("=== hang (curl max-time 3)"); print(await curl(oa + [#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#])); print("took \(clock.now - t)")
            t = clock.now
            print("=== hangAfterChunks"); print(await curl(an + [#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello world"}]}"#])); print("took \(clock.now - t)")
            print("=== after hangs, normal request still works"); print(await curl(ol + [#"{"model":"m","stream":false,"messages":[{"role":"user","content":"still alive"}]}"#]))
            // A hang left in flight when the server stops.
            provider.enqueue(.hang)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-sS", b + "/v1/chat/completions", "-d", #"{"model":"m","messages":[{"role":"user","content":"x"}]}"#]
            try p.run()
            try await Task.sleep(for: .milliseconds(300))
            print("requests: \(provider.requestCount), pending: \(provider.pendingReplyCount)")
            let r = provider.requests[2]
            print(r.path, r.headers, r.body?.jsonText ?? "nil", r.isStreaming, r.wire as Any)
            print(provider.requests(for: .ollama).count)
        }
        print("withServer returned after \(clock.now - start)")
        print(try FakeJSON(parsing: #"{"a":"\ud83d\ude00 \u00e9\n","b":[1,-2.5e3,true,null,{}],"c":0.1}"#).jsonText)
        do { _ = try FakeJSON(parsing: #"{"a":01}"#) } catch { print(error) }
        do { _ = try FakeJSON(parsing: "[1,]") } catch { print(error) }
    }
}
