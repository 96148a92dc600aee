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

    /// Runs the executable to its end. With a `timeout`, a process still running then is killed (its status is then
    /// SIGKILL's 9), so a command that should refuse at once cannot hang the suite by running on.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration? = nil) throws -> Run {
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
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout / .milliseconds(1)))) {
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
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

    /// The banner's listening port.
    static func port(of banner: String) -> Int? {
        banner.split(separator: "\n").first { $0.contains(" listening on http://") }?.split(separator: " ").first { $0.hasPrefix("http://") }
            .flatMap { URLComponents(string: String($0))?.port }
    }

    /// A loopback port nothing listens on (bound, read and closed again).
    static func unusedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func aSecondGatewayOnTheSameWorkspaceIsRefusedAndTheLockEndsWithTheProcess() async throws {
        let workspace = try TestGateway.makeWorkspace()
        let first = try await offPool { try Self.launchGateway(workspace) }
        let port = try #require(Self.port(of: first.banner), "\(first.banner)")
        let pid = first.process.processIdentifier

        let second = try await offPool {
            try Self.run(["gateway", "start", "--workspace", workspace.root.path, "--port", "0", "--set", "logging.stdout=false"], timeout: .seconds(60))
        }
        #expect(second.status == 5, "\(second.stdout)\(second.stderr)")
        let refusal = "another gateway already runs on the workspace \(workspace.root.path) (pid \(pid), listening on 127.0.0.1:\(port))"
        #expect(second.stderr.contains(refusal), "\(second.stderr)")
        // The first one is untouched: still found through its data/gateway.json, still answering.
        let status = try await offPool { try Self.run(["gateway", "status", "--workspace", workspace.root.path, "--json"]) }
        #expect(status.status == 0 && status.stdout.contains("\"pid\" : \(pid)"), "\(status.stdout)\(status.stderr)")
        #expect(GatewayTarget.running(in: workspace)?.pid == Int(pid))

        // kill -9 leaves the lock file behind, but not the lock: the next start takes the workspace.
        kill(pid, SIGKILL)
        try await offPool { first.process.waitUntilExit() }
        let third = try await offPool { try Self.launchGateway(workspace) }
        #expect(third.banner.contains("listening on"), "\(third.banner)")
        third.process.terminate()
        try await offPool { third.process.waitUntilExit() }
        #expect(third.process.terminationStatus == 0)
    }

    @Test func aWorkspaceFolderThatDoesNotExistIsNamedInsteadOfCreated() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-missing-\(UUID().uuidString)")
        let start = try await offPool {
            try Self.run(["gateway", "start", "--workspace", missing.path, "--port", "0", "--set", "logging.stdout=false"], timeout: .seconds(60))
        }
        #expect(start.status == 5, "\(start.stdout)\(start.stderr)")
        #expect(start.stderr.contains("\(missing.path)") && start.stderr.contains("does not exist"), "\(start.stderr)")
        #expect(start.stderr.contains("swiftlet init \(missing.path)"), "\(start.stderr)")
        #expect(!start.stdout.contains("Control token"))

        for command in [["gateway", "status"], ["gateway", "stop"], ["trace", "some-id"], ["plugins", "list"]] {
            let run = try Self.run(command + ["--workspace", missing.path])
            #expect(run.status == 3, "\(command): \(run.stderr)")
            #expect(run.stderr.contains("does not exist") && run.stderr.contains("swiftlet init \(missing.path)"), "\(command): \(run.stderr)")
            #expect(!run.stderr.contains("no gateway is running at"), "\(command): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: missing.path), "nothing was created")

        // An existing workspace whose gateway is down: the hint starts that workspace, not the default one.
        let workspace = try TestGateway.makeWorkspace()
        let asked = ContinuousClock.now
        let down = try Self.run(["gateway", "status", "--workspace", workspace.root.path, "--set", "gateway.port=\(try Self.unusedPort())"])
        #expect(down.status == 3)
        #expect(ContinuousClock.now - asked < .seconds(5), "a refused connection is reported at once, not after the 10 s connect timeout")
        #expect(down.stderr.contains("Start one with `swiftlet gateway start --workspace \(workspace.root.path)`"), "\(down.stderr)")
    }

    @Test func statusStillReportsTheRunningGatewayWhenTheConfigurationIsBroken() async throws {
        let workspace = try TestGateway.makeWorkspace()
        let launched = try await offPool { try Self.launchGateway(workspace) }
        let port = try #require(Self.port(of: launched.banner))
        try "gateway:\n  port: eighty\n".write(to: workspace.configFile, atomically: true, encoding: .utf8)

        let status = try await offPool { try Self.run(["gateway", "status", "--workspace", workspace.root.path]) }
        #expect(status.status == 2)
        #expect(status.stdout.contains("running at http://127.0.0.1:\(port) (pid \(launched.process.processIdentifier))"), "\(status.stdout)")
        #expect(status.stdout.contains("uptime"), "the gateway was asked, not only its file read: \(status.stdout)")
        #expect(status.stderr.contains("config.yaml:2: gateway.port: expected an integer"), "\(status.stderr)")
        let json = try await offPool { try Self.run(["gateway", "status", "--workspace", workspace.root.path, "--json"]) }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(object["running"] as? Bool == true && object["port"] as? Int == port)
        #expect((object["config_error"] as? String)?.contains("gateway.port") == true)

        launched.process.terminate()
        try await offPool { launched.process.waitUntilExit() }
        let stopped = try Self.run(["gateway", "status", "--workspace", workspace.root.path])
        #expect(stopped.status == 2)
        #expect(stopped.stdout.contains("no gateway is running for the workspace"), "\(stopped.stdout)")
    }

    @Test func doctorChecksTheWorkspacesRunningGatewayOnWhateverPortItUses() async throws {
        let workspace = try TestGateway.makeWorkspace()
        let launched = try await offPool { try Self.launchGateway(workspace) }
        let port = try #require(Self.port(of: launched.banner))
        let run = try await offPool { try Self.run(["doctor", "--workspace", workspace.root.path, "--json"]) }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        let check = try #require((object["checks"] as? [[String: Any]])?.first { $0["name"] as? String == "port" })
        let detail = check["detail"] as? String ?? ""
        #expect(detail.contains("gateway (pid \(launched.process.processIdentifier)) is running on 127.0.0.1:\(port)"), "\(detail)")
        #expect(check["status"] as? String != "fail")

        launched.process.terminate()
        try await offPool { launched.process.waitUntilExit() }
    }

    @Test func aMistypedCommandIsAnsweredWithTheNearestOne() throws {
        let top = try Self.run(["gatway", "status"])
        #expect(top.status == 64)
        #expect(top.stderr.contains("'gatway' is not a command of `swiftlet`. Did you mean `swiftlet gateway`?"), "\(top.stderr)")
        let nested = try Self.run(["gateway", "stauts"])
        #expect(nested.status == 64)
        #expect(nested.stderr.contains("Did you mean `swiftlet gateway status`?"), "\(nested.stderr)")
        // With --help after it the parser would print the top-level help and exit 0.
        let help = try Self.run(["tarce", "--help"])
        #expect(help.status == 64 && help.stderr.contains("Did you mean `swiftlet trace`?"), "\(help.stderr)")
        let alias = try Self.run(["plugin", "nwe", "x"])
        #expect(alias.status == 64 && alias.stderr.contains("Did you mean `swiftlet plugin new`?"), "\(alias.stderr)")
        let far = try Self.run(["quantum"])
        #expect(far.status == 64 && far.stderr.contains("Commands: gateway, init, config"), "\(far.stderr)")
        #expect(!far.stderr.contains("plugin-host"), "hidden commands are not offered")
        // Valid command lines are untouched.
        #expect(try Self.run(["help", "gateway"]).status == 0)
        #expect(try Self.run(["gateway", "status", "--help"]).stdout.contains("invalid configuration"))
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
