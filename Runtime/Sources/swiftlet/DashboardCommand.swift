import ArgumentParser
import Foundation
import Runtime

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print the dashboard URL; with --token-gen, a signed URL that logs the browser in.",
        discussion: """
            The token is signed with the workspace key (data/control.key, or control.signing_key) and expires
            after --expire. Opening the URL exchanges it for an HttpOnly, SameSite=Strict cookie and removes it
            from the address bar. Deleting data/control.key revokes every issued token. Issuing is audited.
            """)

    @OptionGroup var options: WorkspaceOptions
    @OptionGroup var client: ClientOptions
    @Flag(name: .customLong("token-gen"), help: "Issue a signed, expiring token and print the URL that carries it.") var tokenGen = false
    @Option(help: ArgumentHelp("Token lifetime such as 30m, 8h, 7d (default: control.token_ttl).", valueName: "duration")) var expire: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (workspace, _, config) = try options.loadConfig()
        let base = GatewayTarget.baseURL(explicit: client.url, workspace: workspace, config: config)
        guard tokenGen else {
            if json { printJSON(["url": base + "/"]) } else { print("\(base)/\nAdd --token-gen for a URL that signs the browser in.") }
            return
        }
        var lifetime = config.control.tokenTTL
        if let expire {
            guard let parsed = ConfigType.duration.parse(scalar: expire), case .duration(let duration) = parsed, duration > .zero else {
                throw ValidationError("--expire expects a duration such as 30m, 8h or 7d")
            }
            lifetime = duration
        }
        let issued: (token: String, id: String, expiresAt: Date)
        do {
            let signer = await ControlTokenSigner(signingKey: try GatewayTarget.signingKey(workspace: workspace, config: config))
            issued = try await signer.issue(scope: .dashboard, subject: "dashboard", lifetime: lifetime)
            let store = try SQLiteStore(path: workspace.path(config.store.sqlitePath).path, busyTimeout: config.store.busyTimeout)
            _ = try await store.appendAudit(
                AuditEvent(
                    eventType: "dashboard_token.issued", userID: "cli:\(NSUserName())",
                    payload: ["token_id": issued.id, "expires_at": issued.expiresAt.formatted(.iso8601)]))
            try await store.close()
        } catch {
            printError("cannot issue a token: \(error)")
            throw ExitStatus.failure
        }
        let url = "\(base)/?token=\(issued.token)"
        if json {
            printJSON(["url": url, "token": issued.token, "expires_at": issued.expiresAt.formatted(.iso8601)])
        } else {
            print(url)
            FileHandle.standardError.write(Data("valid until \(issued.expiresAt.formatted(.iso8601))\n".utf8))
        }
    }
}
