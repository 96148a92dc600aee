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

    /// Loads the configuration or prints every issue and exits with status 2.
    func loadConfig(extra: [ConfigOverride] = []) throws -> (Workspace, ConfigLoader, GatewayConfig) {
        let workspace = resolved
        let loader = ConfigLoader(workspace: workspace, overrides: try overrides(extra: extra))
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

    /// Loads the workspace configuration and connects to its gateway.
    func connect(_ options: WorkspaceOptions) async throws -> AdminClient {
        let (workspace, _, config) = try options.loadConfig()
        return try await client(workspace: workspace, config: config)
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

    func client(workspace: Workspace, config: GatewayConfig) async throws -> AdminClient {
        let explicitToken = token ?? ProcessInfo.processInfo.environment["SWIFTLET_TOKEN"]
        let base = GatewayTarget.baseURL(explicit: url, workspace: workspace, config: config)
        do {
            return AdminClient(baseURL: base, token: try await GatewayTarget.token(explicit: explicitToken, workspace: workspace, config: config))
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
