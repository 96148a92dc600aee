import ArgumentParser
import Foundation
import Runtime

/// `--workspace`, shared by every command that reads a workspace.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Workspace folder (default: $SWIFTLET_HOME, else ~/.swiftlet).", valueName: "dir"))
    var workspace: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one configuration key, highest precedence (repeatable).", valueName: "key=value"))
    var settings: [String] = []

    var resolved: Workspace {
        Workspace.resolve(explicit: workspace, environment: ProcessInfo.processInfo.environment)
    }

    func overrides(extra: [ConfigOverride] = []) throws -> [ConfigOverride] {
        let parsed = try settings.map { setting -> ConfigOverride in
            guard let equals = setting.firstIndex(of: "=") else {
                throw ValidationError("--set expects key=value, such as --set logging.level=debug")
            }
            return ConfigOverride(path: String(setting[..<equals]), value: String(setting[setting.index(after: equals)...]), flag: "--set \(setting[..<equals])")
        }
        return parsed + extra
    }

    /// The workspace, after refusing a `--workspace` that names no folder: a mistyped path must not turn into a new,
    /// empty workspace (with a new control token), nor into "no gateway is running" about some other port.
    ///
    /// - Parameter status: the exit status of the refusal, which depends on the command (5 for `gateway start`).
    func existing(orExit status: ExitCode) throws -> Workspace {
        let workspace = resolved
        if let given = self.workspace, !given.isEmpty, !workspace.exists {
            printError(
                "the workspace folder \(workspace.root.path) (--workspace \(given)) does not exist; nothing was created. "
                    + "Create a workspace there with `swiftlet init \(shellQuoted(workspace.root.path))`, or check the path.")
            throw status
        }
        return workspace
    }

    /// How to start this workspace's gateway, for hints: `--workspace` is named when the user gave it.
    var startCommand: String {
        guard let given = workspace, !given.isEmpty else { return "swiftlet gateway start" }
        return "swiftlet gateway start --workspace \(shellQuoted(resolved.root.path))"
    }

    /// The workspace and its configuration loader, with the `--set` overrides.
    func loader(extra: [ConfigOverride] = [], missingWorkspace status: ExitCode = ExitStatus.invalidConfig) throws -> (Workspace, ConfigLoader) {
        let workspace = try existing(orExit: status)
        return (workspace, ConfigLoader(workspace: workspace, overrides: try overrides(extra: extra)))
    }

    /// Loads the configuration or prints every issue and exits with status 2.
    ///
    /// - Parameter status: the exit status when `--workspace` names no folder.
    func loadConfig(
        extra: [ConfigOverride] = [], missingWorkspace status: ExitCode = ExitStatus.invalidConfig
    ) throws -> (Workspace, ConfigLoader, GatewayConfig) {
        let (workspace, loader) = try loader(extra: extra, missingWorkspace: status)
        do {
            return (workspace, loader, try loader.load())
        } catch {
            printError(error.description)
            throw ExitStatus.invalidConfig
        }
    }
}

/// Options for commands that call a running gateway.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Gateway URL (default: the running gateway of the workspace, else the configured bind and port).", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("Control token (default: $SWIFTLET_TOKEN, else a short-lived token signed with the workspace key).", valueName: "token"))
    var token: String?

    /// The token given by flag or `SWIFTLET_TOKEN`, if any.
    var explicitToken: String? {
        (token ?? ProcessInfo.processInfo.environment["SWIFTLET_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Loads the workspace configuration and connects to its gateway. A workspace that does not exist has no
    /// gateway: that is said (exit 3) rather than asking the default port.
    func connect(_ options: WorkspaceOptions) async throws -> AdminClient {
        let (workspace, _, config) = try options.loadConfig(missingWorkspace: ExitStatus.notRunning)
        return try await client(workspace: workspace, config: config, startCommand: options.startCommand)
    }

    /// Sends one admin request; an unreachable gateway or a refused token is printed and becomes its exit code.
    func send(_ admin: AdminClient, post path: String, timeout: Duration = .seconds(10)) async throws -> AdminClient.Reply {
        do {
            return try await admin.post(path, timeout: timeout)
        } catch {
            throw exitStatus(for: error)
        }
    }

    /// POSTs a reload (which may take long: it waits for drains and builds) and returns the body of a 200; any
    /// other answer is printed as `reload refused: <message>` and becomes an exit code (2, or 4 for a token).
    func reload(_ admin: AdminClient, _ path: String) async throws -> [String: Any] {
        let reply = try await send(admin, post: path, timeout: .seconds(3600))
        guard reply.status == 200 else {
            let message = (reply.body["error"] as? [String: Any])?["message"] as? String ?? "\(reply.body)"
            printError("reload refused: \(message)")
            throw reply.status == 401 || reply.status == 403 ? ExitStatus.unauthorized : ExitStatus.invalidConfig
        }
        return reply.body
    }

    /// GETs one admin path; anything but 200 is printed with the gateway's message and becomes an exit code.
    func fetch(_ admin: AdminClient, _ path: String) async throws -> [String: Any] {
        let reply: AdminClient.Reply
        do {
            reply = try await admin.get(path)
        } catch {
            throw exitStatus(for: error)
        }
        guard reply.status == 200 else {
            let message = (reply.body["error"] as? [String: Any])?["message"] as? String ?? "\(reply.body)"
            printError("HTTP \(reply.status): \(message)")
            throw reply.status == 401 || reply.status == 403 ? ExitStatus.unauthorized : ExitStatus.failure
        }
        return reply.body
    }

    func client(workspace: Workspace, config: GatewayConfig, startCommand: String) async throws -> AdminClient {
        let base = GatewayTarget.baseURL(explicit: url, workspace: workspace, config: config)
        // Signing a token would create the default workspace's data/ folder; a workspace that does not exist runs nothing.
        if explicitToken == nil, !workspace.exists {
            printError(
                "no gateway is running for the workspace \(workspace.root.path): the folder does not exist. "
                    + "Create it with `swiftlet init \(shellQuoted(workspace.root.path))`, then start it with `\(startCommand)`.")
            throw ExitStatus.notRunning
        }
        do {
            let token = try await GatewayTarget.token(explicit: explicitToken, workspace: workspace, config: config)
            return AdminClient(baseURL: base, token: token, startCommand: startCommand)
        } catch {
            printError("cannot sign a control token with this workspace's key: \(error). Pass --token or set SWIFTLET_TOKEN.")
            throw ExitStatus.unauthorized
        }
    }
}

/// `text` left-aligned in a column of `width` characters, with at least one space after it.
func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// `text` as one shell word: unchanged when it holds only safe characters, else in single quotes.
func shellQuoted(_ text: String) -> String {
    let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "/._-+,:@%="))
    if !text.isEmpty, text.unicodeScalars.allSatisfy({ $0.isASCII && safe.contains($0) }) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
}

func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    print(String(data: data, encoding: .utf8) ?? "{}")
}

/// Maps an admin-client failure to its exit status after printing it.
func exitStatus(for error: AdminClientError) -> ExitCode {
    printError(error.description)
    switch error {
    case .notRunning: return ExitStatus.notRunning
    case .unauthorized: return ExitStatus.unauthorized
    case .failed: return ExitStatus.failure
    }
}
