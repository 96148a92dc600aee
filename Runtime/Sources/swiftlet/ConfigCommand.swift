import ArgumentParser
import Foundation
import Runtime

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check and explain the configuration.",
        discussion: """
            Layers, lowest first: built-in defaults < config.yaml < config.d/*.yaml (name order) < .env and the
            environment (SWIFTLET_<SECTION>__<KEY>) < command-line flags. ${VAR} expands in YAML values.
            """,
        subcommands: [Validate.self, Show.self, Reference.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every layer; print each error with its file, line and key. Exit 2 when invalid.")

        @OptionGroup var options: WorkspaceOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let workspace = options.resolved
            let loader = ConfigLoader(workspace: workspace, overrides: try options.overrides())
            do {
                _ = try loader.load()
                let files = loader.layerFiles().map { workspace.displayPath(of: $0) }
                if json { printJSON(["valid": true, "files": files]) } else { print("configuration valid (\(files.isEmpty ? "defaults only" : files.joined(separator: ", ")))") }
            } catch {
                if json {
                    printJSON([
                        "valid": false,
                        "errors": error.issues.map { ["source": $0.source.description, "key": $0.keyPath, "message": $0.message] },
                    ])
                } else {
                    printError(error.description)
                }
                throw ExitStatus.invalidConfig
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the effective configuration with each value's source; secrets are redacted.")

        @OptionGroup var options: WorkspaceOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (_, _, config) = try options.loadConfig()
            let rows = ConfigView.rows(config.resolved)
            if json {
                printJSON(["values": rows.map { ["key": $0.key, "value": $0.value, "source": $0.source] }])
                return
            }
            let width = rows.map(\.key.count).max() ?? 0
            for row in rows {
                print(row.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.value + "    # " + row.source)
            }
        }
    }

    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every key as a Markdown table, or the commented config.yaml template (--template).")

        @Flag(help: "Print the commented config.yaml that `swiftlet init` writes.") var template = false

        func run() async throws {
            print(template ? ConfigTemplate.render(schema: .swiftlet) : ConfigTemplate.markdownReference(schema: .swiftlet), terminator: "")
        }
    }
}
