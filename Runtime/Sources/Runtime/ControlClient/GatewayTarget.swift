import Foundation

/// Finds the gateway the CLI should talk to and a token to talk with.
public enum GatewayTarget {
    /// The base URL: an explicit one, else the running gateway recorded in `data/gateway.json` (when its pid
    /// is alive), else the configured bind and port.
    public static func baseURL(explicit: String?, workspace: Workspace, config: GatewayConfig) -> String {
        if let explicit, !explicit.isEmpty { return String(explicit.trimmingSuffix("/")) }
        if let running = RuntimeFile.read(workspace.runtimeFile), kill(pid_t(running.pid), 0) == 0 {
            return Gateway.baseURL(config: config, host: running.bind, port: running.port)
        }
        return Gateway.baseURL(config: config, host: config.gateway.bind, port: config.gateway.port)
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
