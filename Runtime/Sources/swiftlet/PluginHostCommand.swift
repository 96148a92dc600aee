import ArgumentParser
import Runtime

/// The child the gateway starts, inside its sandbox, for each plugin with `"isolation": "process"`. Not for people:
/// it speaks the gateway's framed JSON-RPC on standard input and output.
struct PluginHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Serve one isolated plugin to the gateway over standard input and output (started by the gateway).",
        shouldDisplay: false
    )

    func run() async throws {
        await PluginHostServer.serve()
    }
}
