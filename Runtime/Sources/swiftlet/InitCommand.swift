import ArgumentParser
import Foundation
import Runtime

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a workspace: a commented config.yaml, tools.json and the skills/, Plugins/, knowledge/, data/, logs/ folders.",
        discussion: "Files are created with mode 0600 and folders with 0700. An existing config.yaml is never overwritten.")

    @Argument(help: ArgumentHelp("Folder to create (default: $SWIFTLET_HOME, else ~/.swiftlet).", valueName: "dir"))
    var directory: String?

    func run() async throws {
        let workspace = Workspace.resolve(explicit: directory, environment: ProcessInfo.processInfo.environment)
        do {
            let created = try workspace.scaffold()
            print("created workspace \(workspace.root.path):")
            for path in created { print("  \(path)") }
            print("next: swiftlet gateway start --workspace \(workspace.root.path)")
        } catch {
            printError(error.description)
            throw ExitStatus.failure
        }
    }
}
