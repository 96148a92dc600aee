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
        try PluginScaffold.write(name: "word_count", kind: .tool, pluginAPIPath: Self.checkout.appendingPathComponent("PluginAPI").path, into: package)
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

    /// Runs `swift ARGS` in `folder`, returning the exit status and the merged output.
    static func swift(_ arguments: [String], in folder: URL) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift"] + arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
