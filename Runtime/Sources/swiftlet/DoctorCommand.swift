import ArgumentParser
import Foundation
import Runtime

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the toolchain, bubblewrap, SQLite, the port and the workspace; each check says ok, warn or fail with a fix.",
        discussion: "Exits 1 when any check fails, 0 otherwise (warnings included).")

    @OptionGroup var options: WorkspaceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let workspace = options.resolved
        let config = Result { () throws(ConfigError) -> GatewayConfig in try ConfigLoader(workspace: workspace, overrides: (try? options.overrides()) ?? []).load() }
        let checks = await Doctor.run(workspace: workspace, config: config, environment: ProcessInfo.processInfo.environment)
        if json {
            printJSON(["checks": checks.map { ["name": $0.name, "status": $0.status.rawValue, "detail": $0.detail, "fix": $0.fix ?? ""] }])
        } else {
            for check in checks {
                print("[\(check.status.rawValue.uppercased().padding(toLength: 4, withPad: " ", startingAt: 0))] \(check.name): \(check.detail)")
                if let fix = check.fix, check.status != .ok { print("       fix: \(fix)") }
            }
        }
        if checks.contains(where: { $0.status == .fail }) { throw ExitStatus.failure }
    }
}
