import Foundation
import GRDB

/// `swiftlet doctor`: checks what a gateway needs on this machine, each with a fix.
public enum Doctor {
    public enum Status: String, Sendable, Codable { case ok, warn, fail }

    public struct Check: Sendable, Codable, Equatable {
        public var name: String
        public var status: Status
        public var detail: String
        public var fix: String?
    }

    public static func run(workspace: Workspace, config: Result<GatewayConfig, ConfigError>, environment: [String: String]) async -> [Check] {
        var checks: [Check] = []
        let path = environment["PATH"] ?? defaultPath
        checks.append(
            executable("swift", in: path).map { Check(name: "toolchain", status: .ok, detail: "swift at \($0)") }
                ?? Check(name: "toolchain", status: .warn, detail: "swift not found on PATH", fix: "install Swift 6.3 to build plugins (the gateway itself runs without it)"))
        // Missing bwrap fails when tools.json registers isolated plugins or sandboxed skills: they cannot run without it.
        let tools = try? ToolsFile.load(workspace.toolsFile)
        let needSandbox = (tools?.plugins ?? []).filter { $0.enabled && $0.isolation == .process }.map { "plugin \($0.name)" }
            + (tools?.skills ?? []).filter { $0.enabled && $0.sandbox == .bubblewrap }.map { "skill \($0.name)" }
        checks.append(
            executable("bwrap", in: path).map { Check(name: "bwrap", status: .ok, detail: "bubblewrap at \($0)") }
                ?? (needSandbox.isEmpty
                    ? Check(name: "bwrap", status: .warn, detail: "bubblewrap not found: skills and isolated plugins cannot be sandboxed", fix: "apt-get install bubblewrap")
                    : Check(
                        name: "bwrap", status: .fail, detail: "bubblewrap not found: \(needSandbox.joined(separator: ", ")) cannot run",
                        fix: "apt-get install bubblewrap")))
        if let skills = tools?.skills, !skills.isEmpty { checks.append(skillsCheck(skills)) }
        checks.append(workspaceCheck(workspace))
        switch config {
        case .failure(let error):
            checks.append(Check(name: "config", status: .fail, detail: error.description, fix: "edit the files named above; `swiftlet config validate` rechecks"))
            // The running gateway keeps the configuration it started with; it is found without one.
            if let running = GatewayTarget.running(in: workspace) { checks.append(runningGatewayCheck(running, config: nil)) }
        case .success(let config):
            checks.append(Check(name: "config", status: .ok, detail: "valid (\(ConfigLoader(workspace: workspace).layerFiles().count) file(s))"))
            checks.append(sqliteCheck(workspace.path(config.store.sqlitePath)))
            checks.append(await portCheck(config: config, workspace: workspace))
            if let refusal = BindPolicy.refusal(bind: config.gateway.bind, auth: config.gateway.auth) {
                checks.append(Check(name: "bind", status: .fail, detail: refusal, fix: "set gateway.auth: token or gateway.bind: 127.0.0.1"))
            } else {
                let loopback = BindPolicy.isLoopback(config.gateway.bind)
                checks.append(Check(name: "bind", status: loopback ? .ok : .warn, detail: loopback ? "loopback only" : "reachable from the network on \(config.gateway.bind), token auth on", fix: loopback ? nil : "put a TLS proxy in front and set gateway.public_url"))
            }
        }
        return checks
    }

    /// Skills: a `sandbox: none` one fails the check (it runs with every right of the gateway); Python skills
    /// need Python 3 under /usr.
    static func skillsCheck(_ skills: [ToolsFile.SkillEntry]) -> Check {
        let enabled = skills.filter(\.enabled)
        let unsandboxed = enabled.filter { $0.sandbox == .none }.map(\.name)
        if !unsandboxed.isEmpty {
            return Check(
                name: "skills", status: .fail, detail: "UNSANDBOXED skills (sandbox: none run with every right of the gateway): \(unsandboxed.joined(separator: ", "))",
                fix: "remove \"sandbox\": \"none\" from their tools.json entries")
        }
        guard SkillLoader.pythonCandidates.contains(where: FileManager.default.isExecutableFile(atPath:)) else {
            return Check(name: "skills", status: .warn, detail: "python3 not found under /usr: python skills cannot run", fix: "apt-get install python3 python3-venv")
        }
        return Check(name: "skills", status: .ok, detail: "\(enabled.count) registered, all sandboxed")
    }

    /// The search path when the environment has no PATH.
    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    static func executable(_ name: String, in path: String) -> String? {
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func workspaceCheck(_ workspace: Workspace) -> Check {
        let root = workspace.root.path
        guard FileManager.default.fileExists(atPath: root) else {
            return Check(name: "workspace", status: .fail, detail: "\(root) does not exist", fix: "swiftlet init \(root)")
        }
        guard FileManager.default.isWritableFile(atPath: root) else {
            return Check(name: "workspace", status: .fail, detail: "\(root) is not writable by this user", fix: "chown it to this user or choose --workspace")
        }
        var loose: [String] = []
        for url in [workspace.dataDirectory, workspace.configFile, workspace.dotenvFile] {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path), let mode = attributes[.posixPermissions] as? Int else { continue }
            if mode & 0o077 != 0 { loose.append("\(workspace.displayPath(of: url)) is \(String(mode, radix: 8))") }
        }
        if !loose.isEmpty {
            return Check(name: "workspace", status: .warn, detail: "readable by other users: " + loose.joined(separator: ", "), fix: "chmod 700 data; chmod 600 config.yaml .env")
        }
        return Check(name: "workspace", status: .ok, detail: root)
    }

    static func sqliteCheck(_ url: URL) -> Check {
        do {
            let queue = try DatabaseQueue(path: ":memory:")
            let version = try queue.read { try String.fetchOne($0, sql: "SELECT sqlite_version()") } ?? "?"
            guard FileManager.default.fileExists(atPath: url.path) else {
                return Check(name: "sqlite", status: .ok, detail: "SQLite \(version); database will be created at \(url.path)")
            }
            var configuration = Configuration()
            configuration.readonly = true
            let database = try DatabaseQueue(path: url.path, configuration: configuration)
            let result = try database.read { try String.fetchOne($0, sql: "PRAGMA quick_check") } ?? "?"
            let mode = try database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } ?? "?"
            guard result == "ok" else {
                return Check(name: "sqlite", status: .fail, detail: "integrity check: \(result)", fix: "restore \(url.path) from a backup")
            }
            return Check(name: "sqlite", status: .ok, detail: "SQLite \(version), \(url.lastPathComponent) intact, journal \(mode)")
        } catch {
            return Check(name: "sqlite", status: .fail, detail: "cannot open \(url.path): \(error)", fix: "check the file's owner and mode")
        }
    }

    /// The port: the workspace's running gateway when there is one (on whatever port it was started with), else
    /// whether the configured address is free for a start.
    static func portCheck(config: GatewayConfig, workspace: Workspace) async -> Check {
        if let running = GatewayTarget.running(in: workspace) { return runningGatewayCheck(running, config: config) }
        let host = config.gateway.bind, port = config.gateway.port
        if port == 0 { return Check(name: "port", status: .ok, detail: "0: a free port is chosen at start") }
        return isFree(host: host, port: port)
            ? Check(name: "port", status: .ok, detail: "\(host):\(port) is free")
            : Check(name: "port", status: .fail, detail: "\(host):\(port) is in use by another program", fix: "stop it, or set gateway.port / pass --port")
    }

    /// The gateway `data/gateway.json` names: does it accept connections, and is the configured port (which a start
    /// without `--port` takes) usable when it differs?
    static func runningGatewayCheck(_ running: GatewayTarget.Running, config: GatewayConfig?) -> Check {
        var detail = "this workspace's gateway (pid \(running.pid)) is running on \(running.address)"
        guard accepts(host: running.bind, port: running.port) else {
            return Check(
                name: "port", status: .warn, detail: detail + ", but nothing accepts connections there",
                fix: "it may still be starting; else stop it (kill \(running.pid)) and start it again")
        }
        guard let config, config.gateway.port != 0, config.gateway.port != running.port else {
            return Check(name: "port", status: .ok, detail: detail)
        }
        let configured = "\(config.gateway.bind):\(config.gateway.port)"
        detail += " (started with --port, or gateway.port changed since)"
        guard isFree(host: config.gateway.bind, port: config.gateway.port) else {
            return Check(
                name: "port", status: .warn,
                detail: detail + "; the configured \(configured) is in use by another program, so a start without --port would fail",
                fix: "stop that program, or set gateway.port")
        }
        return Check(name: "port", status: .ok, detail: detail + "; the configured \(configured) is free")
    }

    /// Tries to bind the address; SO_REUSEADDR matches what the server does, so TIME_WAIT does not count.
    static func isFree(host: String, port: Int) -> Bool {
        withSocketAddress(host: host, port: port) { descriptor, address, length in
            var yes: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            return bind(descriptor, address, length) == 0
        }
    }

    /// Whether something accepts TCP connections on the address (a wildcard bind is reached on loopback).
    static func accepts(host: String, port: Int) -> Bool {
        let reachable = host == "0.0.0.0" ? "127.0.0.1" : (host == "::" ? "::1" : host)
        return withSocketAddress(host: reachable, port: port) { descriptor, address, length in connect(descriptor, address, length) == 0 }
    }

    /// Calls `body` with a fresh stream socket and the address of `host` (IPv4 or IPv6 literal, or localhost) and
    /// `port`; false when the address does not parse or no socket can be made.
    private static func withSocketAddress(host: String, port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        let address = host == "localhost" ? "127.0.0.1" : host
        guard let port = UInt16(exactly: port) else { return false }
        if address.contains(":") {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(port.bigEndian)
            guard inet_pton(AF_INET6, address, &socketAddress.sin6_addr) == 1 else { return false }
            return withSocket(&socketAddress, family: AF_INET6, body)
        }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(port.bigEndian)
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else { return false }
        return withSocket(&socketAddress, family: AF_INET, body)
    }

    private static func withSocket<Address>(
        _ address: inout Address, family: Int32, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(descriptor, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }
}
