import ArgumentParser
import Foundation
import Runtime

/// `swiftlet plugins list|reload`: the plugins of the running gateway.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List the running gateway's plugins, or hot-reload them from tools.json and their files.",
        subcommands: [List.self, Reload.self])

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
            let reply = try await client.send(admin, post: "/admin/v1/plugins/reload" + (name.map { "?name=\($0)" } ?? ""))
            guard reply.status == 200 else {
                let message = (reply.body["error"] as? [String: Any])?["message"] as? String ?? "\(reply.body)"
                printError("reload refused: \(message)")
                throw reply.status == 401 || reply.status == 403 ? ExitStatus.unauthorized : ExitStatus.invalidConfig
            }
            let reports = reply.body["reports"] as? [[String: Any]] ?? []
            if json {
                printJSON(reply.body)
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
            let state = plugin["state"] as? String ?? "?"
            let detail = state == "failed" ? (plugin["error"] as? String ?? "") : ((plugin["functions"] as? [String]) ?? []).joined(separator: ", ")
            lines.append(
                padded(plugin["name"] as? String ?? "?", 18) + padded(plugin["version"] as? String ?? "-", 10) + padded(plugin["kind"] as? String ?? "-", 9)
                    + padded("\(plugin["generation"] as? Int ?? 0)", 5) + padded(plugin["isolation"] as? String ?? "?", 12) + padded(state, 10)
                    + padded("\(plugin["calls"] as? Int ?? 0)", 8) + padded("\(plugin["errors"] as? Int ?? 0)", 8) + detail)
        }
        return lines.joined(separator: "\n")
    }
}
