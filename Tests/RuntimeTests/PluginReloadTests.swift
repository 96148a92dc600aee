import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

@testable import Runtime

@Suite("Plugins: hot reload")
struct PluginReloadTests {
    /// A workspace whose `Plugins/libHot.so` is a copy of the fixture plugin, registered as `fixture_tools`.
    static func hotFixture() async throws -> PluginLoaderTests.Fixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Plugins"), withIntermediateDirectories: true)
        try install("libFixtureToolPlugin.so", in: root)
        return try await PluginLoaderTests.Fixture(
            root: root, entries: #"{"name": "fixture_tools", "file": "libHot.so"}"#, searchDirectories: [root.appendingPathComponent("Plugins")])
    }

    /// Puts a fresh copy of a built plugin at `Plugins/libHot.so`, as a new build would.
    static func install(_ built: String, in root: URL) throws {
        let target = root.appendingPathComponent("Plugins/libHot.so")
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: PluginLoaderTests.buildDirectory.appendingPathComponent(built), to: target)
    }

    @Test("20 reloads while a tool is called continuously: no call fails or is lost")
    func reloadUnderLoad() async throws {
        let fixture = try await Self.hotFixture()
        let root = fixture.workspace.root
        let (failures, answered) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            let probe = CallerProbe()
            for caller in 0..<4 {
                group.addTask {
                    var failures = 0
                    var answered = 0
                    while !probe.stopped {
                        let result = await fixture.call("fixture_echo", #"{"text": "c\#(caller)-\#(answered)"}"#)
                        if result == ("echo: c\(caller)-\(answered)", false) { answered += 1 } else { failures += 1 }
                        probe.answered()
                        // A plugin that answers without suspending never yields the thread; let the reloads run.
                        await Task.yield()
                    }
                    return (failures, answered)
                }
            }
            for _ in 0..<20 {
                // Calls must be running across every swap: wait for a few answers between reloads (not a timing
                // assumption: the wait is for progress, bounded only so a stuck test fails instead of hanging).
                let before = probe.calls
                let deadline = ContinuousClock.now + .seconds(30)
                while probe.calls < before + 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
                try Self.install("libFixtureToolPlugin.so", in: root)
                let reports = try await fixture.catalog.reload("fixture_tools")
                #expect(reports.map(\.outcome) == [.reloaded])
            }
            probe.stop()
            var totals = (0, 0)
            for try await (failures, answered) in group { totals = (totals.0 + failures, totals.1 + answered) }
            return totals
        }
        #expect(failures == 0)
        #expect(answered >= 160)
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.generation == 21 && status.state == .loaded && status.calls == answered && status.errors == 0)
        try await fixture.close()
    }

    @Test("a broken build is refused and the old generation keeps serving")
    func brokenBuildRefused() async throws {
        let fixture = try await Self.hotFixture()
        let root = fixture.workspace.root
        try Self.install("libFixtureABIMismatchPlugin.so", in: root)
        let mismatch = try await fixture.catalog.reload("fixture_tools")
        #expect(mismatch.map(\.outcome) == [.refused] && mismatch[0].error?.hasPrefix("ABI version mismatch") == true && mismatch[0].generation == 1)
        try Data("not an ELF file".utf8).write(to: root.appendingPathComponent("Plugins/libHot.so"))
        let garbage = try await fixture.catalog.reload("fixture_tools")
        #expect(garbage.map(\.outcome) == [.refused] && garbage[0].error?.hasPrefix("dlopen failed") == true)
        #expect(await fixture.call("fixture_echo", #"{"text": "old"}"#) == ("echo: old", false))
        #expect(fixture.status("fixture_tools")?.generation == 1 && fixture.status("fixture_tools")?.state == .loaded)
        // A changed entry with a broken build: the report says the old entry still applies.
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so", "permissions": {"timeout_seconds": 5}}"#)
        let changed = try await fixture.catalog.reload("fixture_tools")
        #expect(changed.first?.error?.hasSuffix("(the old generation keeps serving with its previous tools.json entry until a reload succeeds)") == true)
        try await fixture.close()
    }

    @Test("a reload can move a plugin into its own process and back")
    func isolationChangesOnReload() async throws {
        let fixture = try await Self.hotFixture()
        #expect(await fixture.call("fixture_raw_env", #"{"name": "PATH"}"#).output != "(unset)")
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so", "isolation": "process"}"#)
        #expect(try await fixture.catalog.reload("fixture_tools").map(\.outcome) == [.reloaded])
        #expect(fixture.status("fixture_tools")?.isolation == "process" && fixture.status("fixture_tools")?.generation == 2)
        #expect(await fixture.call("fixture_raw_env", #"{"name": "PATH"}"#) == ("(unset)", false))
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so"}"#)
        #expect(try await fixture.catalog.reload("fixture_tools").map(\.outcome) == [.reloaded])
        #expect(fixture.status("fixture_tools")?.isolation == "in-process" && fixture.status("fixture_tools")?.running == nil)
        #expect(await fixture.call("fixture_raw_env", #"{"name": "PATH"}"#).output != "(unset)")
        try await fixture.close()
    }

    @Test("an entry removed from tools.json is unregistered; an unknown name or invalid tools.json refuses the reload")
    func removalAndRefusals() async throws {
        let fixture = try await Self.hotFixture()
        await #expect(throws: PluginCatalog.ReloadRefused.self) { try await fixture.catalog.reload("nobody") }
        try fixture.writeTools(#"{"name": "fixture_tools"}"#)
        await #expect(throws: PluginCatalog.ReloadRefused.self) { try await fixture.catalog.reload(nil) }
        #expect(await fixture.call("fixture_echo", #"{"text": "kept"}"#).output == "echo: kept")
        try fixture.writeTools("")
        let reports = try await fixture.catalog.reload(nil)
        #expect(reports.map(\.outcome) == [.removed])
        #expect(fixture.tools.definitions.isEmpty && fixture.catalog.statuses.isEmpty)
        // Re-added: a new generation number, so a new staging path (glibc would return old code for an old path).
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so"}"#)
        let readded = try await fixture.catalog.reload(nil)
        #expect(readded.map(\.outcome) == [.loaded] && readded.first?.generation == 2)
        #expect(await fixture.call("fixture_echo", #"{"text": "back"}"#).output == "echo: back")
        try await fixture.close()
    }

    @Test("disabling unregisters the tools and keeps the plugin listed as disabled; enabling loads a new generation")
    func disableAndEnable() async throws {
        let fixture = try await Self.hotFixture()
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so", "enabled": false}"#)
        #expect(try await fixture.catalog.reload(nil).map(\.outcome) == [.removed])
        #expect(fixture.tools.definitions.isEmpty)
        #expect(fixture.status("fixture_tools")?.state == .disabled && fixture.status("fixture_tools")?.functions == [])
        try fixture.writeTools(#"{"name": "fixture_tools", "file": "libHot.so"}"#)
        let enabled = try await fixture.catalog.reload(nil)
        #expect(enabled.map(\.outcome) == [.loaded] && enabled.first?.generation == 2)
        #expect(await fixture.call("fixture_echo", #"{"text": "on"}"#).output == "echo: on")
        try await fixture.close()
    }

    @Test("an invalid tools.json stops the start with every problem named")
    func invalidToolsFileStopsStart() async throws {
        let workspace = try TestGateway.makeWorkspace()
        try #"{"version": 1, "plugins": [{"name": "x", "file": "x.so", "permissions": {"network": ["nohost"]}}]}"#
            .write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
        await #expect {
            _ = try await TestGateway.start(workspace: workspace)
        } throws: { error in
            "\(error)".hasPrefix("tools.json unusable: ") && "\(error)".contains("plugins[0] (x).permissions.network[0]: 'nohost' must be host:port")
        }
    }

    @Test("the admin API and the CLI's endpoints list and reload plugins, audited")
    func adminAPI() async throws {
        let workspace = try TestGateway.makeWorkspace()
        try #"{"version": 1, "plugins": [{"name": "fixture_tools", "file": "libFixtureToolPlugin.so"}, {"name": "gone", "file": "libMissing.so"}]}"#
            .write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
        let gateway = try await TestGateway.start(workspace: workspace)
        let list = try await gateway.request("/admin/v1/plugins", token: gateway.controlToken)
        let plugins = try #require(list.json["plugins"] as? [[String: Any]])
        #expect(plugins.map { $0["name"] as? String } == ["fixture_tools", "gone"])
        #expect(plugins.map { $0["state"] as? String } == ["loaded", "failed"])
        let ready = try await gateway.request("/ready")
        let checks = try #require(ready.json["checks"] as? [String: Any])
        #expect(ready.status == 200)
        #expect((checks["plugins"] as? [String: Any])?["detail"] as? String == "1 loaded, 1 failed; gone: libMissing.so not found (looked in \(workspace.pluginsDirectory.path), \(PluginLoaderTests.buildDirectory.path))")

        let reload = try await gateway.request("/admin/v1/plugins/reload?name=fixture_tools", method: .POST, token: gateway.controlToken)
        #expect(reload.status == 200)
        #expect((reload.json["reports"] as? [[String: Any]])?.first?["generation"] as? Int == 2)
        let unknown = try await gateway.request("/admin/v1/plugins/reload?name=nobody", method: .POST, token: gateway.controlToken)
        #expect(unknown.status == 409)
        let denied = try await gateway.request("/admin/v1/plugins/reload", method: .POST)
        #expect(denied.status == 401)
        let audit = try await gateway.state.store.auditEvents(type: "admin.plugins.reload", limit: 5)
        #expect(audit.first?.payload.contains("fixture_tools=reloaded") == true)
        try await gateway.stop()
    }
}

/// What the callers of a load test share: a stop flag they poll and a count of calls they made.
final class CallerProbe: Sendable {
    private let flag = Synchronization.Atomic<Bool>(false)
    private let count = Synchronization.Atomic<Int>(0)
    var stopped: Bool { flag.load(ordering: .acquiring) }
    var calls: Int { count.load(ordering: .relaxed) }
    func stop() { flag.store(true, ordering: .releasing) }
    func answered() { count.add(1, ordering: .relaxed) }
}
