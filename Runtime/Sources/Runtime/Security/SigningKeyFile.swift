import Foundation

/// The generated dashboard-token signing key, kept in `data/control.key` (mode 0600) when
/// `control.signing_key` is not configured. Deleting the file revokes every issued dashboard token.
enum SigningKeyFile {
    /// The key in force: `control.signing_key` when configured, else the workspace's key file (created once).
    /// The workspace's `data/` folder must exist.
    static func key(for config: GatewayConfig, in workspace: Workspace) throws -> String {
        try config.control.signingKey ?? loadOrCreate(at: workspace.signingKeyFile)
    }

    static func loadOrCreate(at url: URL) throws -> String {
        if let data = FileManager.default.contents(atPath: url.path),
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), text.count >= 32
        {
            return text
        }
        let key = ControlToken.generateSigningKey()
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".control.key.\(getpid())")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw WorkspaceError.cannotCreate(url.path, reason: "write failed")
        }
        // Two processes racing to create the key must agree on one: link() fails if the other won.
        if link(temporary.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            return try loadOrCreate(at: url)
        }
        try? FileManager.default.removeItem(at: temporary)
        return key
    }
}
