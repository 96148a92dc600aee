import Crypto
import FakeProviders
import Foundation
import Logging
import PluginAPI
import Testing

@testable import Runtime

/// Loads the real plugin builds (`libFixtureToolPlugin.so`, `libFixtureABIMismatchPlugin.so`, `libFileSearch.so`),
/// which SwiftPM builds beside this test binary.
@Suite("Plugins: loading, whitelist enforcement, first-party file_search")
struct PluginLoaderTests {
    static let buildDirectory = Bundle.main.executableURL!.deletingLastPathComponent()

    /// A workspace with `tools.json` set to `entries`, a catalog over it, and the registry it fills.
    struct Fixture {
        let workspace: Workspace
        let store: SQLiteStore
        let tools: ToolRegistry
        let catalog: PluginCatalog

        init(
            root: URL = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-plugins-\(UUID().uuidString)"), entries: String,
            variables: [String: String] = [:], dotenv: String = "", searchDirectories: [URL] = [PluginLoaderTests.buildDirectory],
            redactor: SecretRedactor? = nil
        ) async throws {
            workspace = Workspace(root: root)
            try workspace.scaffold()
            if !dotenv.isEmpty { try dotenv.write(to: workspace.dotenvFile, atomically: true, encoding: .utf8) }
            try Self.writeTools(entries, to: workspace)
            store = try SQLiteStore(path: workspace.dataDirectory.appendingPathComponent("test.sqlite").path)
            tools = ToolRegistry()
            catalog = PluginCatalog(
                workspace: workspace, store: store, tools: tools, logger: Logger(label: "test"), searchDirectories: searchDirectories,
                variables: variables, redactor: redactor)
            try await catalog.loadAll()
        }

        /// Replaces the workspace's tools.json with these `plugins` entries (JSON objects, comma-separated).
        func writeTools(_ entries: String) throws {
            try Self.writeTools(entries, to: workspace)
        }

        static func writeTools(_ entries: String, to workspace: Workspace) throws {
            try #"{"version": 1, "plugins": [\#(entries)]}"#.write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
        }

        func write(_ relative: String, _ text: String) throws {
            let url = workspace.root.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        func call(_ name: String, _ arguments: String = "{}") async -> (output: String, isError: Bool) {
            await tools.run(ToolCall(id: "c1", name: name, arguments: arguments), context: ToolContext(messageID: "m1", sessionID: "s1", channel: "test", sender: "owner"))
        }

        func status(_ name: String) -> PluginCatalog.Status? { catalog.statuses.first { $0.name == name } }

        func close() async throws {
            await catalog.shutdown()
            try await store.close()
        }
    }

    static func fixture(_ permissions: String = "{}", extra: String = "") -> String {
        #"{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "permissions": \#(permissions)}"# + extra
    }

    @Test("a plugin loads from its own generation copy and its functions serve the model")
    func loadsAndServes() async throws {
        let fixture = try await Fixture(entries: Self.fixture())
        let status = try #require(fixture.status("fixture_tools"))
        #expect(status.state == .loaded && status.version == "0.0.1" && status.kind == "tool" && status.generation == 1 && status.isolation == "in-process")
        #expect(status.functions.contains("fixture_echo"))
        #expect(fixture.tools.definitions.contains { $0.name == "fixture_echo" && $0.parameters["required"] == .array([.string("text")]) })
        #expect(await fixture.call("fixture_echo", #"{"text": "hello"}"#) == ("echo: hello", false))
        // A ToolFailure reaches the model as an error it can act on.
        #expect(await fixture.call("fixture_echo", "{}") == ("error: missing argument 'text'", true))
        let after = try #require(fixture.status("fixture_tools"))
        #expect(after.calls == 2 && after.errors == 1)
        let staged = fixture.workspace.dataDirectory.appendingPathComponent("plugins/fixture_tools/g1-libFixtureToolPlugin.so")
        #expect(FileManager.default.fileExists(atPath: staged.path))
        try await fixture.close()
    }

    @Test("ABI mismatch, checksum mismatch, a wrong name and a missing file are refused with the reason; the others still load")
    func refusesBrokenPlugins() async throws {
        let good = try Data(contentsOf: Self.buildDirectory.appendingPathComponent("libFixtureToolPlugin.so"))
        let digest = SHA256.hash(data: good).map { String(format: "%02x", $0) }.joined()
        let fixture = try await Fixture(
            entries: """
                {"name": "mismatch", "file": "libFixtureABIMismatchPlugin.so"},
                {"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "sha256": "\(digest)"},
                {"name": "tampered", "file": "libFixtureToolPlugin.so", "sha256": "\(String(repeating: "0", count: 64))"},
                {"name": "misnamed", "file": "libFixtureToolPlugin.so"},
                {"name": "missing", "file": "libNothingHere.so"},
                {"name": "off", "file": "libNothingHere.so", "enabled": false}
                """)
        #expect(fixture.status("fixture_tools")?.state == .loaded)
        #expect(fixture.status("fixture_tools")?.sha256 == digest)
        let mismatch = try #require(fixture.status("mismatch"))
        #expect(mismatch.state == .failed && mismatch.error?.hasPrefix("ABI version mismatch: the plugin was built for ABI \(PluginABI.version + 100)") == true)
        #expect(fixture.status("tampered")?.error?.hasPrefix("checksum mismatch: tools.json expects sha256 0000") == true)
        #expect(fixture.status("misnamed")?.error == "the plugin calls itself 'fixture_tools' but tools.json registers it as 'misnamed'")
        #expect(fixture.status("missing")?.error?.hasPrefix("libNothingHere.so not found") == true)
        #expect(fixture.status("off")?.state == .disabled)
        #expect(await fixture.call("fixture_echo", #"{"text": "still here"}"#).output == "echo: still here")
        try await fixture.close()
    }

    @Test("files: listed roots only; traversal, symlink escapes and writes outside the write roots are refused", arguments: ["in-process", "process"])
    func filesWhitelist(isolation: String) async throws {
        let fixture = try await Fixture(
            entries: #"{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "isolation": "\#(isolation)", "permissions": {"files": {"read": ["knowledge"], "write": ["notes"]}}}"#)
        try fixture.write("knowledge/faq.md", "opening hours: 9-17")
        try fixture.write("private/diary.md", "secret diary")
        try FileManager.default.createSymbolicLink(
            atPath: fixture.workspace.root.appendingPathComponent("knowledge/escape").path, withDestinationPath: fixture.workspace.root.appendingPathComponent("private").path)

        #expect(await fixture.call("fixture_read", #"{"path": "knowledge/faq.md"}"#) == ("opening hours: 9-17", false))
        for path in ["private/diary.md", "knowledge/../private/diary.md", "knowledge/escape/diary.md", "/etc/passwd", "config.yaml"] {
            let result = await fixture.call("fixture_read", #"{"path": "\#(path)"}"#)
            #expect(result.isError && result.output.contains("not allowed by files.read"), "\(path): \(result.output)")
        }
        #expect(await fixture.call("fixture_write", #"{"path": "notes/new/today.md", "text": "hi"}"#) == ("written", false))
        #expect(try String(contentsOf: fixture.workspace.root.appendingPathComponent("notes/new/today.md"), encoding: .utf8) == "hi")
        // Writable implies readable.
        #expect(await fixture.call("fixture_read", #"{"path": "notes/new/today.md"}"#).output == "hi")
        for path in ["knowledge/faq.md", "notes/../private/x.md", "/tmp/outside.md"] {
            let result = await fixture.call("fixture_write", #"{"path": "\#(path)", "text": "x"}"#)
            #expect(result.isError && result.output.contains("not allowed by files.write"), "\(path): \(result.output)")
        }
        #expect(try String(contentsOf: fixture.workspace.root.appendingPathComponent("knowledge/faq.md"), encoding: .utf8) == "opening hours: 9-17")
        // Dangling links whose targets climb out (through a folder that does not exist yet) are refused too.
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-escape-\(UUID().uuidString)")
        let notes = fixture.workspace.root.appendingPathComponent("notes")
        let climb = String(repeating: "../", count: notes.pathComponents.count + 2)
        try FileManager.default.createSymbolicLink(atPath: notes.appendingPathComponent("out").path, withDestinationPath: "x/" + climb + outside.path)
        try FileManager.default.createSymbolicLink(atPath: notes.appendingPathComponent("last.md").path, withDestinationPath: "y/" + climb + outside.path + ".md")
        for path in ["notes/out/pwn.md", "notes/last.md"] {
            let result = await fixture.call("fixture_write", #"{"path": "\#(path)", "text": "x"}"#)
            #expect(result.isError && result.output.contains("not allowed by files.write"), "\(path): \(result.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: outside.path) && !FileManager.default.fileExists(atPath: outside.path + ".md"))
        #expect(!FileManager.default.fileExists(atPath: notes.appendingPathComponent("x").path))
        try await fixture.close()
    }

    @Test("network, environment and secrets: only what the entry lists", arguments: ["in-process", "process"])
    func networkEnvironmentSecrets(isolation: String) async throws {
        try await FakeProviderServer.withServer(FakeProvider()) { server in
            let fixture = try await Fixture(
                entries: #"{"name": "fixture_tools", "file": "libFixtureToolPlugin.so", "isolation": "\#(isolation)", "permissions": "#
                    + #"{"network": ["127.0.0.1:\#(server.port)"], "env": ["FIXTURE_LISTED"], "secrets": ["api_key"]}}"#,
                variables: ["FIXTURE_LISTED": "visible", "FIXTURE_HIDDEN": "hidden", "SWIFTLET_SECRET_API_KEY": "k-123456", "SWIFTLET_SECRET_OTHER": "x"])
            let allowed = await fixture.call("fixture_fetch", #"{"url": "\#(server.baseURL)/nowhere"}"#)
            #expect(allowed == ("404: 404 page not found", false))
            for url in ["http://127.0.0.1:1/", "https://example.com/", "http://localhost:\(server.port)/"] {
                let refused = await fixture.call("fixture_fetch", #"{"url": "\#(url)"}"#)
                #expect(refused.isError && refused.output.contains("not allowed by network"), "\(url): \(refused.output)")
            }
            #expect(await fixture.call("fixture_env", #"{"name": "FIXTURE_LISTED"}"#) == ("visible", false))
            let hiddenEnvironment = await fixture.call("fixture_env", #"{"name": "FIXTURE_HIDDEN"}"#)
            #expect(hiddenEnvironment.isError && hiddenEnvironment.output.contains("FIXTURE_HIDDEN is not allowed by env"))
            #expect(await fixture.call("fixture_secret", #"{"name": "api_key"}"#) == ("secret has 8 characters", false))
            let otherSecret = await fixture.call("fixture_secret", #"{"name": "other"}"#)
            #expect(otherSecret.isError && otherSecret.output.contains("other is not allowed by secrets"))
            try await fixture.close()
        }
    }

    @Test("secrets come from the environment before .env and are registered with the log redactor")
    func secretSourcesAndRedaction() async throws {
        let redactor = SecretRedactor()
        let fixture = try await Fixture(
            entries: Self.fixture(#"{"env": ["FIXTURE_BOTH", "FIXTURE_FILE"], "secrets": ["token"]}"#),
            variables: ["FIXTURE_BOTH": "from-environment"],
            dotenv: "FIXTURE_BOTH=from-dotenv\nFIXTURE_FILE=only-in-dotenv\nSWIFTLET_SECRET_TOKEN=s3cr3t-value\n", redactor: redactor)
        #expect(await fixture.call("fixture_env", #"{"name": "FIXTURE_BOTH"}"#).output == "from-environment")
        #expect(await fixture.call("fixture_env", #"{"name": "FIXTURE_FILE"}"#).output == "only-in-dotenv")
        #expect(await fixture.call("fixture_secret", #"{"name": "token"}"#).output == "secret has 12 characters")
        #expect(!redactor.redact("the plugin logged s3cr3t-value").contains("s3cr3t-value"))
        try await fixture.close()
    }

    @Test("a call past the entry's timeout fails at the deadline even when the plugin ignores cancellation")
    func timeout() async throws {
        let fixture = try await Fixture(entries: Self.fixture(#"{"timeout_seconds": 0.2}"#))
        let result = await fixture.call("fixture_hang")
        #expect(result.isError && result.output.contains("timed out after"))
        #expect(fixture.status("fixture_tools")?.errors == 1)
        try await fixture.close()
    }

    @Test("the key-value store is the plugin's own, kept in the gateway store")
    func keyValueStore() async throws {
        let fixture = try await Fixture(entries: Self.fixture())
        #expect(await fixture.call("fixture_count").output == "1")
        #expect(await fixture.call("fixture_count").output == "2")
        #expect(try await fixture.store.pluginValue(plugin: "fixture_tools", key: "count") == "2")
        #expect(try await fixture.store.pluginValue(plugin: "other", key: "count") == nil)
        try await fixture.close()
    }

    @Test("file_search finds names and lines under its readable roots and nothing elsewhere")
    func fileSearch() async throws {
        let fixture = try await Fixture(entries: #"{"name": "file_search", "file": "libFileSearch.so", "permissions": {"files": {"read": ["knowledge"]}}}"#)
        try fixture.write("knowledge/faq.md", "# FAQ\nOpening hours: 9 to 17\nParking: free\n")
        try fixture.write("knowledge/hours/holidays.txt", "closed on holidays")
        try fixture.write("private/hours.md", "Opening hours of the secret lab")
        try FileManager.default.createSymbolicLink(
            atPath: fixture.workspace.root.appendingPathComponent("knowledge/link").path, withDestinationPath: fixture.workspace.root.appendingPathComponent("private").path)

        let contents = await fixture.call("file_search", #"{"query": "opening HOURS", "in": "contents"}"#)
        #expect(contents == ("knowledge/faq.md:2: Opening hours: 9 to 17", false))
        let names = await fixture.call("file_search", #"{"query": "holidays", "in": "names"}"#)
        #expect(names == ("knowledge/hours/holidays.txt", false))
        #expect(await fixture.call("file_search", #"{"query": "secret lab"}"#).output == "No matches for \"secret lab\".")
        let capped = await fixture.call("file_search", #"{"query": "o", "max_results": 1}"#)
        #expect(capped.output.hasSuffix("(stopped at 1 results; narrow the query or raise max_results)"))
        #expect(await fixture.call("file_search", #"{"query": ""}"#) == ("error: query is empty", true))
        try await fixture.close()
    }

    @Test("fs reads with line numbers, writes, edits one exact occurrence and lists, within its roots only")
    func fileSystem() async throws {
        let fixture = try await Fixture(
            entries: #"{"name": "fs", "file": "libFileSystem.so", "permissions": {"files": {"read": ["knowledge"], "write": ["notes"]}}}"#)
        try fixture.write("knowledge/faq.md", "one\ntwo\nthree\n")
        try fixture.write("notes/todo.md", "- milk\n- bread\n- milk\n")
        try fixture.write("private/diary.md", "no")

        #expect(await fixture.call("fs_read", #"{"path": "knowledge/faq.md", "from_line": 2, "max_lines": 1}"#) == ("2\ttwo\n(2 more lines; continue with from_line 3)", false))
        #expect(await fixture.call("fs_write", #"{"path": "notes/new.md", "content": "hello"}"#) == ("wrote 5 bytes to notes/new.md", false))
        #expect(await fixture.call("fs_write", #"{"path": "notes/new.md", "content": "again"}"#).output.hasPrefix("error: notes/new.md exists"))
        #expect(await fixture.call("fs_write", #"{"path": "notes/new.md", "content": "again", "overwrite": true}"#).isError == false)
        #expect(await fixture.call("fs_edit", #"{"path": "notes/todo.md", "old_text": "- bread", "new_text": "- eggs"}"#) == ("edited notes/todo.md", false))
        #expect(try String(contentsOf: fixture.workspace.root.appendingPathComponent("notes/todo.md"), encoding: .utf8) == "- milk\n- eggs\n- milk\n")
        #expect(await fixture.call("fs_edit", #"{"path": "notes/todo.md", "old_text": "- milk", "new_text": "x"}"#).output == "error: old_text occurs 2 times in notes/todo.md; include more context")
        #expect(await fixture.call("fs_list", #"{"path": "notes"}"#).output == "new.md\ntodo.md")
        for (function, arguments, permission) in [
            ("fs_read", #"{"path": "private/diary.md"}"#, "files.read"),
            ("fs_read", #"{"path": "knowledge/../private/diary.md"}"#, "files.read"),
            ("fs_write", #"{"path": "knowledge/faq.md", "content": "x", "overwrite": true}"#, "files.write"),
            ("fs_edit", #"{"path": "knowledge/faq.md", "old_text": "one", "new_text": "1"}"#, "files.write"),
            ("fs_list", #"{"path": "/etc"}"#, "files.read"),
        ] {
            let result = await fixture.call(function, arguments)
            #expect(result.isError && result.output.contains("not allowed by \(permission)"), "\(function) \(arguments): \(result.output)")
        }
        #expect(try String(contentsOf: fixture.workspace.root.appendingPathComponent("knowledge/faq.md"), encoding: .utf8) == "one\ntwo\nthree\n")
        try await fixture.close()
    }
}
