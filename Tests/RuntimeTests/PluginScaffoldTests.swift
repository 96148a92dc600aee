import Foundation
import PluginAPI
import Testing

@testable import Runtime

@Suite("swiftlet plugin new: a scaffold that builds, passes its tests and loads")
struct PluginScaffoldTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("names: tools.json rules, type names in CamelCase")
    func names() throws {
        #expect(PluginScaffold.typeName(for: "word_count") == "WordCount")
        #expect(PluginScaffold.typeName(for: "my-tool2") == "MyTool2")
        for bad in ["", "Word", "9lives", "a b", String(repeating: "a", count: 65)] {
            #expect(throws: PluginScaffold.Refusal.self) { try PluginScaffold.files(name: bad, kind: .tool, pluginAPIPath: "/x") }
        }
        let channel = try PluginScaffold.files(name: "my_chat", kind: .channel, pluginAPIPath: "/x")
        #expect(channel["Sources/MyChatPlugin/MyChatPlugin.swift"]?.contains("ChannelPlugin") == true)
    }

    @Test("the tool scaffold builds against this checkout's PluginAPI, its own tests pass, and the gateway loads and reloads it")
    func buildsAndLoads() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-scaffold-\(UUID().uuidString)")
        let package = root.appendingPathComponent("word_count")
        try PluginScaffold.write(name: "word_count", kind: .tool, pluginAPI: Self.checkout.appendingPathComponent("PluginAPI"), into: package)
        let (status, output) = try await offPool { try Self.swift(["test"], in: package) }
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(output.contains("2 tests"))

        let built = package.appendingPathComponent(".build/debug")
        let fixture = try await PluginLoaderTests.Fixture(
            entries: #"{"name": "word_count", "file": "libWordCount.so"}"#, searchDirectories: [built])
        #expect(fixture.status("word_count")?.state == .loaded)
        #expect(await fixture.call("word_count", #"{"text": "the gateway loads extensions"}"#) == ("4 words; the longest is \"extensions\"", false))
        #expect(try await fixture.catalog.reload("word_count").map(\.outcome) == [.reloaded])
        #expect(await fixture.call("word_count", #"{"text": "again"}"#).output == "1 words; the longest is \"again\"")
        try await fixture.close()
        try? FileManager.default.removeItem(at: root)
    }

    @Test("relative paths: from the new package to the PluginAPI folder")
    func relativePaths() {
        let root = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)")
        func path(_ from: String, _ to: String) -> String {
            PluginScaffold.relativePath(from: root.appendingPathComponent(from), to: root.appendingPathComponent(to))
        }
        #expect(path("plugins/word_count", "swiftlet/PluginAPI") == "../../swiftlet/PluginAPI")
        #expect(path("swiftlet/word_count", "swiftlet/PluginAPI") == "../PluginAPI")
        #expect(path("a/./b/../c", "PluginAPI") == "../../PluginAPI")
    }

    @Test("the scaffold names PluginAPI relative to itself (it resolves after both move), or by SWIFTLET_PLUGIN_API (when only the checkout moves)")
    func survivesAMove() async throws {
        let before = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-move-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: before) }
        // A checkout of its own (PluginAPI's manifest and sources), so it can be moved.
        let api = before.appendingPathComponent("swiftlet/PluginAPI")
        try FileManager.default.createDirectory(at: api, withIntermediateDirectories: true)
        for item in ["Package.swift", "Sources"] {
            try FileManager.default.copyItem(at: Self.checkout.appendingPathComponent("PluginAPI/\(item)"), to: api.appendingPathComponent(item))
        }
        let plugins = before.appendingPathComponent("plugins")
        let made = try CommandLineTests.run(["plugin", "new", "word_count", "--output", plugins.path, "--plugin-api", api.path])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try String(contentsOf: before.appendingPathComponent("plugins/word_count/Package.swift"), encoding: .utf8)
        #expect(!manifest.contains(before.path), "no absolute path: \(manifest)")
        #expect(manifest.contains(#"Context.environment["SWIFTLET_PLUGIN_API"] ?? "../../swiftlet/PluginAPI""#), "\(manifest)")
        let readme = try String(contentsOf: before.appendingPathComponent("plugins/word_count/README.md"), encoding: .utf8)
        #expect(readme.contains("swiftlet plugins reload word_count --workspace <workspace>"), "\(readme)")
        #expect(readme.contains("SWIFTLET_PLUGIN_API="), "\(readme)")

        let after = before.deletingLastPathComponent().appendingPathComponent(before.lastPathComponent + "-moved")
        defer { try? FileManager.default.removeItem(at: after) }
        try FileManager.default.moveItem(at: before, to: after)
        let package = after.appendingPathComponent("plugins/word_count")
        let (moved, output) = try await offPool { try Self.swift(["package", "show-dependencies", "--format", "json"], in: package) }
        #expect(moved == 0 && output.contains(after.appendingPathComponent("swiftlet/PluginAPI").path), "\(output.suffix(2000))")

        // Only the checkout moves: the relative path misses it, the variable names it.
        let elsewhere = after.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: after.appendingPathComponent("swiftlet"), to: elsewhere.appendingPathComponent("swiftlet"))
        try? FileManager.default.removeItem(at: package.appendingPathComponent(".build"))
        try? FileManager.default.removeItem(at: package.appendingPathComponent("Package.resolved"))
        let variable = elsewhere.appendingPathComponent("swiftlet/PluginAPI").path
        let (found, foundOutput) = try await offPool {
            try Self.swift(["package", "show-dependencies", "--format", "json"], in: package, environment: ["SWIFTLET_PLUGIN_API": variable])
        }
        #expect(found == 0 && foundOutput.contains(variable), "\(foundOutput.suffix(2000))")
    }

    /// Runs `swift ARGS` in `folder`, returning the exit status and the merged output.
    static func swift(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift"] + arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
