import FakeProviders
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import Runtime

/// Plugins with `"isolation": "process"`: the fixture plugin served by `swiftlet plugin-host` (the real executable,
/// built beside this test binary) inside bubblewrap.
@Suite("Plugins: process isolation in a bubblewrap sandbox")
struct PluginIsolationTests {
    typealias Fixture = PluginLoaderTests.Fixture

    static func isolated(_ permissions: String = "{}") -> String {
        #"{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "isolation": "process", "permissions": \#(permissions)}"#
    }

    static func inProcess(_ permissions: String = "{}") -> String {
        #"{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "permissions": \#(permissions)}"#
    }

    @Test("an isolated plugin loads in its sandbox and serves calls, store and failures included")
    func loadsAndServes() async throws {
        let fixture = try await Fixture(entries: Self.isolated())
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.state == .loaded && status.isolation == "process" && status.version == "0.0.1" && status.kind == "tool", "\(status)")
        #expect(status.restarts == 0 && status.functions.contains("fixture_echo"))
        #expect(await fixture.call("fixture_echo", #"{"text": "across the boundary"}"#) == ("echo: across the boundary", false))
        #expect(await fixture.call("fixture_echo", "{}") == ("error: missing argument 'text'", true))
        // The key-value store lives in the gateway: the child asks for it over the pipe.
        #expect(await fixture.call("fixture_count").output == "1")
        #expect(await fixture.call("fixture_count").output == "2")
        #expect(try await fixture.store.pluginValue(plugin: "fixture_tools", key: "count") == "2")
        // Text a plugin prints to standard output goes to the log, not into the protocol.
        #expect(await fixture.call("fixture_print") == ("printed", false))
        #expect(await fixture.call("fixture_echo", #"{"text": "still framed"}"#) == ("echo: still framed", false))
        try await fixture.close()
    }

    // The whitelist through the context (files, network, environment, secrets): PluginLoaderTests runs those
    // tests in both modes.

    /// A TCP listener on the host's loopback for the raw-connect calls.
    static func withListener(_ body: (Int) async throws -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        try await body(channel.localAddress?.port ?? 0)
    }

    @Test("code that bypasses the context is stopped by the kernel: files, network, environment and exec")
    func kernelEnforcement() async throws {
        try await Self.withListener { port in
            let permissions = #"{"files": {"read": ["knowledge"], "write": ["notes"]}}"#
            let isolated = try await Fixture(entries: Self.isolated(permissions), variables: ["FIXTURE_HIDDEN": "hidden"])
            try isolated.write("knowledge/faq.md", "faq")
            try isolated.write("private/diary.md", "secret diary")
            let diary = isolated.workspace.root.appendingPathComponent("private/diary.md").path
            let outside = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-raw-\(UUID().uuidString)").path

            // The same calls succeed in-process, where only the context checks: the sandbox is what stops them.
            let inProcess = try await Fixture(entries: Self.inProcess(permissions))
            #expect(await inProcess.call("fixture_raw_read", #"{"path": "\#(diary)"}"#) == ("secret diary", false))
            #expect(await inProcess.call("fixture_raw_connect", #"{"port": \#(port)}"#) == ("connected", false))
            #expect(await inProcess.call("fixture_spawn") == ("spawned", false))
            #expect(await inProcess.call("fixture_raw_env", #"{"name": "PATH"}"#).output != "(unset)")
            try await inProcess.close()

            for path in [diary, "/etc/passwd", "/root/.ssh/id_rsa", isolated.workspace.root.appendingPathComponent("config.yaml").path] {
                let read = await isolated.call("fixture_raw_read", #"{"path": "\#(path)"}"#)
                #expect(read.isError, "\(path) was readable in the sandbox: \(read.output)")
            }
            #expect(await isolated.call("fixture_raw_read", #"{"path": "\#(isolated.workspace.root.path)/knowledge/faq.md"}"#) == ("faq", false))
            let faq = isolated.workspace.root.appendingPathComponent("knowledge/faq.md").path
            for path in [faq, isolated.workspace.root.appendingPathComponent("knowledge/x.md").path, "/usr/x", "/x"] {
                let write = await isolated.call("fixture_raw_write", #"{"path": "\#(path)"}"#)
                #expect(write.isError, "\(path) was writable in the sandbox")
            }
            #expect(try String(contentsOfFile: faq, encoding: .utf8) == "faq")
            // /tmp in the sandbox is its own small tmpfs (this test's workspace lives under /tmp, so the folders
            // bwrap made to mount its roots on are there too): a write there never reaches the host.
            for path in [outside, isolated.workspace.root.appendingPathComponent("x.md").path] {
                _ = await isolated.call("fixture_raw_write", #"{"path": "\#(path)"}"#)
                #expect(!FileManager.default.fileExists(atPath: path), "\(path) reached the host")
            }
            let connect = await isolated.call("fixture_raw_connect", #"{"port": \#(port)}"#)
            #expect(connect.isError && connect.output.contains("connect failed"), "\(connect.output)")
            let spawn = await isolated.call("fixture_spawn")
            #expect(spawn.isError && spawn.output.contains("Operation not permitted"), "\(spawn.output)")
            // Nothing of the gateway's environment is there: not even PATH.
            #expect(await isolated.call("fixture_raw_env", #"{"name": "PATH"}"#) == ("(unset)", false))
            #expect(await isolated.call("fixture_raw_env", #"{"name": "FIXTURE_HIDDEN"}"#) == ("(unset)", false))
            #expect(isolated.status("fixture_tools")?.restarts == 0)
            try await isolated.close()

            // exec granted: the seccomp filter is not installed.
            let exec = try await Fixture(entries: Self.isolated(#"{"exec": true}"#))
            #expect(await exec.call("fixture_spawn") == ("spawned", false))
            try await exec.close()
        }
    }

    @Test("a crash in an isolated plugin fails that call, the plugin is restarted, and the other plugins keep serving")
    func crashIsContained() async throws {
        let fixture = try await Fixture(
            entries: Self.isolated() + #", {"name": "file_search", "file": "libFileSearch.so", "permissions": {"files": {"read": ["knowledge"]}}}"#)
        try fixture.write("knowledge/faq.md", "opening hours: 9-17")
        #expect(await fixture.call("fixture_echo", #"{"text": "before"}"#) == ("echo: before", false))
        async let crash = fixture.call("fixture_crash")
        async let other = fixture.call("file_search", #"{"query": "opening"}"#)
        let crashed = await crash
        #expect(crashed.isError && crashed.output.contains("stopped while running the call") && crashed.output.contains("signal"), "\(crashed.output)")
        #expect(crashed.output.contains("fixture_crash was called"), "the last stderr line names the cause: \(crashed.output)")
        #expect(await !other.isError)
        // The next call waits for the restarted child.
        #expect(await fixture.call("fixture_echo", #"{"text": "after"}"#) == ("echo: after", false))
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.state == .loaded && status.restarts == 1 && status.lastExit?.contains("signal") == true, "\(status)")
        #expect(await !fixture.call("file_search", #"{"query": "hours"}"#).isError)
        try await fixture.close()
    }

    @Test("end to end: the model calls a crashing isolated tool; the gateway answers, goes on, and reports the restart")
    func gatewayOutlivesACrash() async throws {
        let fake = FakeProvider()
        fake.enqueue(.toolCalls([FakeToolCall(name: "fixture_crash")]), .text("The tool broke; here is what I know."))
        try await FakeProviderServer.withServer(fake) { server in
            let workspace = try TestGateway.makeWorkspace(config: MessagePathTests.config(server))
            try #"{"version": 1, "plugins": [\#(Self.isolated())]}"#.write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
            let gateway = try await TestGateway.start(workspace: workspace)
            try await WebChatProbe.with(port: gateway.port, token: gateway.controlToken) { chat in
                let first = try await chat.send("use the tool")
                #expect(((try await chat.reply(to: first))["data"] as? [String: Any])?["text"] as? String == "The tool broke; here is what I know.")
                let toolResult = fake.lastRequest?.messages.first { $0["role"]?.stringValue == "tool" }?["content"]?.stringValue ?? ""
                #expect(toolResult.contains("stopped while running the call") && toolResult.contains("fixture_crash was called"), "\(toolResult)")
                // The gateway goes on: the next message is answered (the fake echoes it).
                let second = try await chat.send("still there?")
                #expect(((try await chat.reply(to: second))["data"] as? [String: Any])?["text"] as? String == "echo: still there?")
            }
            let list = try await gateway.request("/admin/v1/plugins", token: gateway.controlToken)
            let plugin = try #require((list.json["plugins"] as? [[String: Any]])?.first)
            #expect(plugin["isolation"] as? String == "process" && plugin["restarts"] as? Int == 1, "\(plugin)")
            #expect(try await gateway.request("/ready").status == 200)
            try await gateway.stop()
        }
    }

    @Test("a call that spins past its deadline fails at the deadline; the deaf child is killed and restarted")
    func hangIsContained() async throws {
        // 2 s rather than less: the same deadline bounds the echo to the restarted child below, and a test run on two
        // busy cores (a plugin build runs alongside) has been seen to take more than 0.5 s for it.
        let fixture = try await Fixture(entries: Self.isolated(#"{"timeout_seconds": 2}"#))
        let started = ContinuousClock.now
        let result = await fixture.call("fixture_spin")
        #expect(result.isError && result.output.contains("timed out after"), "\(result.output)")
        #expect(ContinuousClock.now - started < .seconds(5))
        // After the grace period the child is killed (waited for, bounded so a stuck test fails instead of hanging);
        // the next call is served by a new one.
        let deadline = ContinuousClock.now + .seconds(20)
        while fixture.status("fixture_tools")?.restarts != 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(ContinuousClock.now - started >= IsolatedPlugin.cancelGrace)
        #expect(fixture.status("fixture_tools")?.lastExit?.contains("signal 9") == true)
        // This entry's deadline also bounds waiting for the new child, which may take longer to start on a
        // loaded machine: wait for it to be up first.
        while fixture.status("fixture_tools")?.running != true, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let alive = await fixture.call("fixture_echo", #"{"text": "alive"}"#)
        #expect(alive == ("echo: alive", false), "\(alive.output)")
        #expect(fixture.status("fixture_tools")?.restarts == 1)
        try await fixture.close()
    }

    @Test("memory_mb caps the plugin's address space: a memory bomb fails without touching the gateway")
    func memoryLimit() async throws {
        let fixture = try await Fixture(entries: Self.isolated(#"{"memory_mb": 64}"#))
        #expect(await fixture.call("fixture_allocate", #"{"megabytes": 16}"#) == ("allocated", false))
        let bomb = await fixture.call("fixture_allocate", #"{"megabytes": 512}"#)
        #expect(bomb.isError && bomb.output.contains("malloc of 512 MB failed"), "\(bomb.output)")
        #expect(await fixture.call("fixture_echo", #"{"text": "fine"}"#) == ("echo: fine", false))
        try await fixture.close()
    }

    @Test("reloading an isolated plugin under load starts a new child and retires the old one without a failed call")
    func reloadUnderLoad() async throws {
        let fixture = try await Fixture(entries: Self.isolated())
        let probe = CallerProbe()
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for caller in 0..<2 {
                group.addTask {
                    var failed = 0
                    while !probe.stopped {
                        let result = await fixture.call("fixture_echo", #"{"text": "\#(caller)"}"#)
                        if result != ("echo: \(caller)", false) { failed += 1 }
                        probe.answered()
                    }
                    return failed
                }
            }
            for _ in 0..<5 {
                // Wait for calls to run across each swap (bounded so a stuck test fails instead of hanging).
                let before = probe.calls
                let deadline = ContinuousClock.now + .seconds(30)
                while probe.calls < before + 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
                let reports = try await fixture.catalog.reload("fixture_tools")
                #expect(reports.map(\.outcome) == [.reloaded], "\(reports)")
            }
            probe.stop()
            return try await group.reduce(0, +)
        }
        #expect(failures == 0 && probe.calls > 40)
        #expect(fixture.status("fixture_tools")?.generation == 6)
        try await fixture.close()
    }

    @Test("an idle isolated plugin keeps its process: nothing ends the sandbox while the gateway runs")
    func survivesIdleness() async throws {
        let fixture = try await Fixture(entries: Self.isolated())
        #expect(await fixture.call("fixture_echo", #"{"text": "1"}"#) == ("echo: 1", false))
        // Long enough for idle worker threads to end (a sandbox tied to the thread that started it, as
        // --die-with-parent would tie it, could die with one).
        try await Task.sleep(for: .seconds(8))
        #expect(await fixture.call("fixture_echo", #"{"text": "2"}"#) == ("echo: 2", false))
        #expect(fixture.status("fixture_tools")?.restarts == 0, "\(String(describing: fixture.status("fixture_tools")))")
        try await fixture.close()
    }

    @Test("a mount source swapped for a link while the plugin ran is refused at the restart")
    func swappedMountIsRefused() async throws {
        let fixture = try await Fixture(entries: Self.isolated(#"{"files": {"read": ["notes/archive"], "write": ["notes"]}}"#))
        try fixture.write("notes/archive/old.md", "old")
        // The sandbox was planned before notes/archive existed; reload to plan it with the folder mounted.
        #expect(try await fixture.catalog.reload("fixture_tools").map(\.outcome) == [.reloaded])
        #expect(await fixture.call("fixture_read", #"{"path": "notes/archive/old.md"}"#) == ("old", false))
        // What a plugin with write access to notes/ could do: put a link where a mount source was, then crash.
        let archive = fixture.workspace.root.appendingPathComponent("notes/archive")
        try FileManager.default.removeItem(at: archive)
        try FileManager.default.createSymbolicLink(atPath: archive.path, withDestinationPath: "/etc")
        _ = await fixture.call("fixture_crash")
        let deadline = ContinuousClock.now + .seconds(20)
        while fixture.status("fixture_tools")?.lastExit?.contains("no longer the path") != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.running == false && status.lastExit?.contains("\(archive.path) is no longer the path it was") == true, "\(status)")
        try await fixture.close()
    }

    @Test("a plugin that cannot start isolated is reported with the reason")
    func startFailures() async throws {
        let fixture = try await Fixture(
            entries: #"{"name": "fixture_tools", "file": "libFixtureABIMismatchPlugin.so", "isolation": "process"}"#)
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.state == .failed && status.error?.contains("ABI version mismatch") == true, "\(status)")
        try await fixture.close()
    }
}
