import ArgumentParser
import Runtime

@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A self-hosted personal AI assistant gateway.",
        discussion: """
            The gateway connects chat platforms to model providers and lets the model act through tools.
            Everything lives in a workspace folder: --workspace DIR, else $SWIFTLET_HOME, else ~/.swiftlet.

            First steps:
              swiftlet init ~/.swiftlet          create a workspace
              swiftlet gateway start             run the gateway (http://127.0.0.1:18789)
              swiftlet dashboard --token-gen     print a signed URL that opens the web chat

            Exit codes: 0 success, 1 failure, 2 invalid configuration, 3 no gateway running,
            4 token refused, 5 gateway cannot start (port in use, insecure bind, unusable workspace), 64 usage.
            """,
        version: SwiftletVersion.current,
        subcommands: [GatewayCommand.self, InitCommand.self, ConfigCommand.self, DashboardCommand.self, DoctorCommand.self, TraceCommand.self, TopCommand.self, PluginsCommand.self, SkillsCommand.self, PairingCommand.self, PluginHostCommand.self]
    )

    /// A mistyped subcommand is answered with the nearest one (exit 64) before the parser sees it.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let unknown = UnknownCommand.find(in: arguments, root: Swiftlet.self) {
            printError(unknown.description)
            Swiftlet.exit(withError: ExitCode(64))
        }
        await main(arguments)
    }
}

/// Exit codes are part of the CLI's contract (see `swiftlet --help`).
enum ExitStatus {
    static let failure = ExitCode(1)
    static let invalidConfig = ExitCode(2)
    static let notRunning = ExitCode(3)
    static let unauthorized = ExitCode(4)
    static let cannotStart = ExitCode(5)
}
