import ArgumentParser
import Foundation
import PluginAPI
import Runtime

/// `swiftlet plugins list|reload`: the plugins of the running gateway.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List the running gateway's plugins, hot-reload them, or start a new one.",
        subcommands: [List.self, Reload.self, New.self], aliases: ["plugin"])

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new plugin package (a buildable plugin, its test, and a README from build to hot reload).",
            discussion: "Example: swiftlet plugin new word_count --kind tool, then cd word_count && swift build -c release && swift test.")

        @Argument(help: "The plugin's name in tools.json: a-z, 0-9, '_' and '-', starting with a letter.") var name: String
        @Option(help: "tool or channel.") var kind: String = "tool"
        @Option(help: ArgumentHelp("Where to create the package folder NAME (default: the current folder).", valueName: "folder")) var output: String?
        @Option(
            name: .customLong("plugin-api"),
            help: ArgumentHelp("The PluginAPI package to build against (default: the one of the checkout this swiftlet was built from).", valueName: "folder"))
        var pluginAPI: String?

        func run() throws {
            guard let kind = PluginKind(rawValue: kind) else {
                printError("--kind must be tool or channel")
                throw ExitCode(64)
            }
            let api = pluginAPI.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? Self.checkoutPluginAPI() ?? URL(fileURLWithPath: "PluginAPI")
            guard FileManager.default.fileExists(atPath: api.appendingPathComponent("Package.swift").path) else {
                printError("no PluginAPI package at \(api.path); pass --plugin-api with the PluginAPI folder of the swiftlet checkout the gateway was built from")
                throw ExitStatus.failure
            }
            let folder = URL(fileURLWithPath: output ?? FileManager.default.currentDirectoryPath).appendingPathComponent(name)
            guard !FileManager.default.fileExists(atPath: folder.path) else {
                printError("\(folder.path) already exists")
                throw ExitStatus.failure
            }
            do {
                try PluginScaffold.write(name: name, kind: kind, pluginAPI: api, into: folder)
            } catch let refusal as PluginScaffold.Refusal {
                printError(refusal.description)
                throw ExitCode(64)
            }
            print("created \(folder.path) (\(kind.rawValue) plugin \(name)); next: cd \(folder.path) && swift build -c release && swift test, then see its README.md")
        }

        /// The PluginAPI folder of the checkout whose build folder holds this executable (`.build/…/swiftlet`).
        static func checkoutPluginAPI() -> URL? {
            var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            while folder.path != "/" {
                let candidate = folder.appendingPathComponent("PluginAPI")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Package.swift").path) { return candidate }
                folder.deleteLastPathComponent()
            }
            return nil
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Name, version, kind, generation, isolation, state, calls and errors of each plugin.")

        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let admin = try await client.connect(options)
            let body = try await client.fetch(admin, "/admin/v1/plugins")
            if json {
                printJSON(body)
                return
            }
            print(PluginTable.render(body["plugins"] as? [[String: Any]] ?? []))
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a new generation of one plugin (or all) from its file and tools.json; a build that fails to load is refused and the old one keeps serving.",
            discussion: "Exit status: 0 when every plugin reloaded, 1 when one was refused, 2 when the reload was refused as a whole (invalid tools.json, unknown name, another reload running).")

        @Argument(help: "The plugin's name in tools.json (default: every plugin).") var name: String?
        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            if let name, name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                printError("'\(name)' is not a plugin name")
                throw ExitCode(64)
            }
            let admin = try await client.connect(options)
            // A reload waits for calls in flight to drain (up to each plugin's timeout_seconds + 1 s).
            let body = try await client.reload(admin, "/admin/v1/plugins/reload" + (name.map { "?name=\($0)" } ?? ""))
            let reports = body["reports"] as? [[String: Any]] ?? []
            if json {
                printJSON(body)
            } else {
                for report in reports {
                    let generation = (report["generation"] as? Int).map { $0 > 0 ? " generation \($0)" : "" } ?? ""
                    let took = (report["milliseconds"] as? Double).map { String(format: " (%.1f ms)", $0) } ?? ""
                    let error = (report["error"] as? String).map { ": \($0)" } ?? ""
                    print("\(report["name"] ?? "?") \(report["outcome"] ?? "?")\(generation)\(took)\(error)")
                }
                if reports.isEmpty { print("tools.json registers no plugins") }
            }
            if reports.contains(where: { $0["outcome"] as? String == "refused" }) { throw ExitStatus.failure }
        }
    }
}

/// The table of `swiftlet plugins list`.
enum PluginTable {
    static func render(_ plugins: [[String: Any]]) -> String {
        guard !plugins.isEmpty else { return "tools.json registers no plugins" }
        var lines = [
            padded("name", 18) + padded("version", 10) + padded("kind", 9) + padded("gen", 5) + padded("isolation", 12) + padded("state", 10)
                + padded("calls", 8) + padded("errors", 8) + "functions / reason"
        ]
        for plugin in plugins {
            var state = plugin["state"] as? String ?? "?"
            var detail = state == "failed" ? (plugin["error"] as? String ?? "") : ((plugin["functions"] as? [String]) ?? []).joined(separator: ", ")
            // An isolated plugin whose process died: restarting until it is up again, and how it last ended.
            if state == "loaded", plugin["running"] as? Bool == false { state = "restarting" }
            if let restarts = plugin["restarts"] as? Int, restarts > 0 {
                detail += " (restarted \(restarts)x; last exit: \(plugin["lastExit"] as? String ?? "?"))"
            }
            lines.append(
                padded(plugin["name"] as? String ?? "?", 18) + padded(plugin["version"] as? String ?? "-", 10) + padded(plugin["kind"] as? String ?? "-", 9)
                    + padded("\(plugin["generation"] as? Int ?? 0)", 5) + padded(plugin["isolation"] as? String ?? "?", 12) + padded(state, 10)
                    + padded("\(plugin["calls"] as? Int ?? 0)", 8) + padded("\(plugin["errors"] as? Int ?? 0)", 8) + detail)
        }
        return lines.joined(separator: "\n")
    }
}
