public import Foundation

/// Finds the gateway the CLI should talk to and a token to talk with.
public enum GatewayTarget {
    /// The gateway of a workspace as `data/gateway.json` records it.
    public struct Running: Sendable, Equatable {
        public var pid: Int
        public var bind: String
        public var port: Int
        public var version: String
        public var startedAt: Date

        /// The loopback-reachable URL of its listener (`gateway.public_url` needs the configuration).
        public var url: String { "http://\(address)" }

        /// `host:port` as shown to users.
        public var address: String {
            let host = bind.contains(":") ? "[\(bind)]" : (bind == "0.0.0.0" ? "127.0.0.1" : bind)
            return "\(host):\(port)"
        }
    }

    /// The running gateway recorded in `data/gateway.json`, when its pid is alive. Needs no configuration, so a
    /// gateway can be found while config.yaml is broken.
    public static func running(in workspace: Workspace) -> Running? {
        guard let file = RuntimeFile.read(workspace.runtimeFile), kill(pid_t(file.pid), 0) == 0 else { return nil }
        return Running(pid: file.pid, bind: file.bind, port: file.port, version: file.version, startedAt: file.startedAt)
    }

    /// The base URL: an explicit one, else the running gateway recorded in `data/gateway.json` (when its pid
    /// is alive), else the configured bind and port.
    public static func baseURL(explicit: String?, workspace: Workspace, config: GatewayConfig) -> String {
        if let explicit, !explicit.isEmpty { return String(explicit.trimmingSuffix("/")) }
        if let running = running(in: workspace) {
            return Gateway.baseURL(config: config, host: running.bind, port: running.port)
        }
        return Gateway.baseURL(config: config, host: config.gateway.bind, port: config.gateway.port)
    }

    /// A token when the configuration cannot be read: an explicit one, else one signed with the workspace's key
    /// file (nil when there is none: the gateway then signs with `control.signing_key`, which only the
    /// configuration knows). Never creates a key.
    public static func tokenWithoutConfig(explicit: String?, workspace: Workspace) async throws -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        guard let text = try? String(contentsOf: workspace.signingKeyFile, encoding: .utf8) else { return nil }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.count >= 32 else { return nil }
        let signer = await ControlTokenSigner(signingKey: key)
        return try await signer.issue(scope: .dashboard, subject: "cli", lifetime: .seconds(300)).token
    }

    /// A token for admin calls: an explicit one (flag or `SWIFTLET_TOKEN`), else a 5-minute token signed with
    /// the workspace key, which only someone who can read the workspace can do.
    public static func token(explicit: String?, workspace: Workspace, config: GatewayConfig) async throws -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        let signer = await ControlTokenSigner(signingKey: try signingKey(workspace: workspace, config: config))
        return try await signer.issue(scope: .dashboard, subject: "cli", lifetime: .seconds(300)).token
    }

    /// The dashboard signing key of a workspace, creating it when the gateway has not run yet.
    public static func signingKey(workspace: Workspace, config: GatewayConfig) throws -> String {
        if config.control.signingKey == nil { try workspace.prepareStateDirectories() }
        return try SigningKeyFile.key(for: config, in: workspace)
    }
}
