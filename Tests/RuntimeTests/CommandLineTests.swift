import Foundation
import Testing

@testable import Runtime

/// Runs the real `swiftlet` executable, as a user would.
@Suite(.serialized) struct CommandLineTests {
    static var executable: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlet")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/swiftlet")
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWIFTLET_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func initCreatesAPrivateWorkspaceAndRefusesToOverwrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-cli-\(UUID().uuidString)")
        let first = try Self.run(["init", directory.path])
        #expect(first.status == 0)
        for folder in ["skills", "Plugins", "knowledge", "data", "logs"] {
            #expect(try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(folder).path)[.posixPermissions] as? Int == 0o700)
        }
        for file in ["config.yaml", "tools.json"] {
            #expect(try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(file).path)[.posixPermissions] as? Int == 0o600)
        }
        let second = try Self.run(["init", directory.path])
        #expect(second.status == 1)
        #expect(second.stderr.contains("already holds a config.yaml"))
    }

    @Test func configValidateReportsEachErrorWithFileAndLine() throws {
        let workspace = try TestGateway.makeWorkspace(config: "gateway:\n  port: eighty\n  prot: 1\n")
        let run = try Self.run(["config", "validate", "--workspace", workspace.root.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("config.yaml:2: gateway.port: expected an integer"))
        #expect(run.stderr.contains("config.yaml:3: gateway.prot: unknown key in section 'gateway'; did you mean 'port'?"))

        try "gateway: [broken\n".write(to: workspace.configFile, atomically: true, encoding: .utf8)
        let malformed = try Self.run(["config", "validate", "--workspace", workspace.root.path, "--json"])
        #expect(malformed.status == 2)
        #expect(malformed.stdout.contains("invalid YAML"))
    }

    @Test func configShowNamesSourcesAndRedactsSecrets() throws {
        let workspace = try TestGateway.makeWorkspace(config: "control:\n  signing_key: ${KEY}\n")
        let run = try Self.run(["config", "show", "--workspace", workspace.root.path, "--set", "logging.level=debug"], environment: ["KEY": "very-secret-signing-key-0123456789", "SWIFTLET_GATEWAY__PORT": "19999"])
        #expect(run.status == 0)
        #expect(!run.stdout.contains("very-secret"))
        #expect(run.stdout.contains("[REDACTED]"))
        #expect(run.stdout.contains("# env SWIFTLET_GATEWAY__PORT"))
        #expect(run.stdout.contains("# flag --set logging.level"))
        #expect(run.stdout.contains("# config.yaml:2"))
    }

    /// A started gateway process and what it printed before it was ready.
    struct LaunchedGateway: @unchecked Sendable {  // Process is not Sendable; one test task uses it at a time.
        var process: Process
        var banner: String
    }

    /// Starts `swiftlet gateway start` on a free port and reads its banner up to the dashboard line.
    static func launchGateway(_ workspace: Workspace) throws -> LaunchedGateway {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["gateway", "start", "--workspace", workspace.root.path, "--port", "0", "--print-dashboard-url", "--set", "logging.stdout=false"]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWIFTLET_") }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var banner = ""
        while !banner.contains("Dashboard") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner += String(decoding: chunk, as: UTF8.self)
        }
        return LaunchedGateway(process: process, banner: banner)
    }

    @Test func startPrintsTheTokenOnceStopsOnSIGTERMAndStatusThenSaysNoneRuns() async throws {
        let workspace = try TestGateway.makeWorkspace()
        let launched = try await offPool { try Self.launchGateway(workspace) }
        let (process, banner) = (launched.process, launched.banner)
        #expect(banner.contains("Control token (shown once"))
        let url = try #require(banner.split(separator: "\n").first { $0.hasPrefix("Dashboard") }.flatMap { $0.split(separator: " ").last }.map(String.init))
        #expect(url.contains("/?token="))

        let status = try Self.run(["gateway", "status", "--workspace", workspace.root.path, "--json"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"running\" : true"))
        let logText = try String(contentsOf: workspace.logsDirectory.appendingPathComponent("swiftlet.log"), encoding: .utf8)
        #expect(logText.contains("gateway listening"))
        #expect(!logText.contains(url.components(separatedBy: "token=").last!), "tokens never reach the log")

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let after = try Self.run(["gateway", "status", "--workspace", workspace.root.path])
        #expect(after.status == 3)
        #expect(after.stderr.contains("no gateway is running"))
    }

    @Test func startOnABusyPortExitsWithAClearMessage() async throws {
        let running = try await TestGateway.start()
        let workspace = try TestGateway.makeWorkspace()
        let run = try Self.run(["gateway", "start", "--workspace", workspace.root.path, "--port", String(running.port), "--set", "logging.stdout=false"])
        #expect(run.status == 5)
        #expect(run.stderr.contains("is already in use"))
        #expect(try await running.request("/health").status == 200)
        try await running.stop()
    }

    @Test func insecureBindExitsWithTheReason() throws {
        let workspace = try TestGateway.makeWorkspace(config: "gateway:\n  auth: none\n")
        let run = try Self.run(["gateway", "start", "--workspace", workspace.root.path, "--bind", "0.0.0.0", "--set", "logging.stdout=false"])
        #expect(run.status == 5)
        #expect(run.stderr.contains("without authentication"))
    }

    @Test func dashboardTokenGenIssuesAnAuditedExpiringURL() async throws {
        let workspace = try TestGateway.makeWorkspace()
        let run = try Self.run(["dashboard", "--token-gen", "--expire", "2h", "--workspace", workspace.root.path, "--json"])
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let token = try #require(object["token"] as? String)
        #expect((object["url"] as? String)?.hasSuffix("/?token=\(token)") == true)

        let gateway = try await TestGateway.start(workspace: workspace)
        #expect(try await gateway.request("/admin/v1/status", token: token).status == 200)
        #expect(try await gateway.state.store.auditEvents(type: "dashboard_token.issued", limit: 5).count == 1)
        try await gateway.stop()

        let bad = try Self.run(["dashboard", "--token-gen", "--expire", "soon", "--workspace", workspace.root.path])
        #expect(bad.status == 64)
    }

    @Test func doctorReportsEachCheck() throws {
        let workspace = try TestGateway.makeWorkspace()
        let run = try Self.run(["doctor", "--workspace", workspace.root.path, "--json", "--set", "gateway.port=0"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(Set(checks.compactMap { $0["name"] as? String }).isSuperset(of: ["toolchain", "bwrap", "workspace", "config", "sqlite", "port", "bind"]))
        #expect(run.status == (checks.contains { $0["status"] as? String == "fail" } ? 1 : 0))

        try "gateway:\n  port: x\n".write(to: workspace.configFile, atomically: true, encoding: .utf8)
        let broken = try Self.run(["doctor", "--workspace", workspace.root.path])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("[FAIL] config"))
    }
}
