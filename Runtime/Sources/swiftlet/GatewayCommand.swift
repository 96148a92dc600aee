import ArgumentParser
import Foundation
import Runtime

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Start, inspect and stop the gateway.",
        subcommands: [Start.self, Status.self, Stop.self, Reload.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the gateway in the foreground until SIGTERM, SIGINT or `swiftlet gateway stop`.",
            discussion: """
                SIGHUP reloads the configuration; an invalid one is refused and the running one stays.
                On first start a control token is created and printed once: keep it, it is stored only hashed.
                """)

        @OptionGroup var options: WorkspaceOptions
        @Option(help: "Port to listen on (overrides gateway.port; 0 picks a free one).") var port: Int?
        @Option(help: "Address to listen on (overrides gateway.bind). Non-loopback addresses require token auth.") var bind: String?
        @Flag(help: "Developer mode: debug-level text logs on stdout.") var dev = false
        @Flag(help: "Print a signed dashboard URL at start even when stdout is not a terminal.") var printDashboardURL = false

        func run() async throws {
            var flags: [ConfigOverride] = []
            if let port { flags.append(ConfigOverride(path: "gateway.port", value: String(port), flag: "--port")) }
            if let bind { flags.append(ConfigOverride(path: "gateway.bind", value: bind, flag: "--bind")) }
            if dev { flags.append(ConfigOverride(path: "gateway.dev", value: "true", flag: "--dev")) }
            // A --workspace that names no folder is refused (exit 5); the default workspace is created on first start.
            let (workspace, loader, config) = try options.loadConfig(extra: flags, missingWorkspace: ExitStatus.cannotStart)
            do {
                try workspace.prepareStateDirectories()
            } catch {
                printError("workspace unusable: \(error)")
                throw ExitStatus.cannotStart
            }
            // Taken before the log file, the plugins' staging folder or the store is touched, and held until exit.
            let lock: WorkspaceLock
            do {
                lock = try WorkspaceLock.acquire(workspace)
            } catch {
                printError(error.description)
                throw ExitStatus.cannotStart
            }
            defer { lock.release() }
            let sink: LogSink
            do {
                sink = try LogSink(settings: LogSink.settings(for: config, workspace: workspace))
            } catch {
                printError("cannot open the log file: \(error)")
                throw ExitStatus.cannotStart
            }
            let gateway: Gateway
            do {
                gateway = try await Gateway.open(config: config, loader: loader, logSink: sink)
            } catch {
                printError(error.description)
                throw ExitStatus.cannotStart
            }
            let showURL = printDashboardURL || isatty(STDOUT_FILENO) == 1
            let firstToken = gateway.newControlToken
            do {
                try await gateway.run { endpoint in
                    var banner = ["swiftlet \(SwiftletVersion.current) listening on \(endpoint.baseURL) (workspace \(workspace.root.path))"]
                    if let firstToken {
                        banner.append("Control token (shown once, stored only hashed; use it as 'Authorization: Bearer <token>'):")
                        banner.append("  \(firstToken)")
                    }
                    if showURL, let issued = try? await gateway.state.authenticator.signer.issue(scope: .dashboard, subject: "dashboard", lifetime: config.control.tokenTTL) {
                        banner.append("Dashboard (valid until \(issued.expiresAt.formatted(.iso8601))): \(endpoint.baseURL)/?token=\(issued.token)")
                    } else {
                        banner.append("Dashboard: run `swiftlet dashboard --token-gen` for a signed URL.")
                    }
                    // Printed, never logged: tokens must not reach the log files.
                    print(banner.joined(separator: "\n"))
                    fflush(nil)
                }
            } catch {
                printError(error.description)
                throw ExitStatus.cannotStart
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the running gateway for its version, uptime, port and counts.",
            discussion: """
                With an invalid configuration it still reports the running gateway (found through data/gateway.json,
                which needs no configuration) and then the configuration's issues, and exits 2.
                """)

        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (workspace, loader) = try options.loader(missingWorkspace: ExitStatus.notRunning)
            let config: GatewayConfig
            do {
                config = try loader.load()
            } catch {
                try await reportWithoutConfig(workspace, configError: error)
            }
            let admin = try await client.client(workspace: workspace, config: config, startCommand: options.startCommand)
            let reply: AdminClient.Reply
            do {
                reply = try await admin.get("/admin/v1/status")
            } catch {
                if json { printJSON(["running": false, "url": admin.baseURL]) }
                throw exitStatus(for: error)
            }
            guard reply.status == 200 else {
                printError("status failed with HTTP \(reply.status): \(reply.body)")
                throw ExitStatus.failure
            }
            if json {
                printJSON(reply.body.merging(["running": true, "url": admin.baseURL]) { a, _ in a })
                return
            }
            print(Self.render(reply.body, url: admin.baseURL))
        }

        /// config.yaml does not load, but the running gateway keeps the configuration it started with and can still be
        /// found (data/gateway.json) and asked (a token signed with data/control.key): report that, then the issues.
        private func reportWithoutConfig(_ workspace: Workspace, configError: ConfigError) async throws -> Never {
            let running = GatewayTarget.running(in: workspace)
            let url = client.url.map { String($0.hasSuffix("/") ? $0.dropLast() : Substring($0)) } ?? running?.url
            var body: [String: Any]?
            var unanswered: String?
            if let url {
                do {
                    if let token = try await GatewayTarget.tokenWithoutConfig(explicit: client.explicitToken, workspace: workspace) {
                        let reply = try await AdminClient(baseURL: url, token: token, startCommand: options.startCommand).get("/admin/v1/status")
                        if reply.status == 200 { body = reply.body } else { unanswered = "it answered HTTP \(reply.status)" }
                    } else {
                        unanswered = "the workspace has no data/control.key to sign a token with; pass --token"
                    }
                } catch {
                    unanswered = "\(error)"
                }
            }
            let issues = "the configuration is invalid (a running gateway keeps the one it started with; a reload or restart would be refused):\n"
                + configError.description
            if json {
                var object: [String: Any] = ["running": body != nil || running != nil, "config_error": configError.description]
                if let url { object["url"] = url }
                if let running, body == nil { object.merge(["pid": running.pid, "version": running.version, "port": running.port]) { a, _ in a } }
                if let unanswered { object["unanswered"] = unanswered }
                printJSON((body ?? [:]).merging(object) { _, new in new })
            } else if let body, let url {
                print(Self.render(body, url: url))
            } else if let running {
                let started = running.startedAt.formatted(.iso8601)
                print("swiftlet \(running.version) running at \(running.url) (pid \(running.pid), started \(started); from data/gateway.json)")
                if let unanswered { print("  not asked for details: \(unanswered)") }
            } else if let url, let unanswered {
                print("no status from \(url): \(unanswered)")
            } else {
                print("no gateway is running for the workspace \(workspace.root.path) (data/gateway.json names none)")
            }
            printError(issues)
            throw ExitStatus.invalidConfig
        }

        static func render(_ body: [String: Any], url: String) -> String {
            let counts = body["counts"] as? [String: Any] ?? [:]
            return """
                swiftlet \(body["version"] ?? "?") running at \(url) (pid \(body["pid"] ?? "?"))
                  uptime     \(body["uptime_seconds"] ?? "?") s
                  workspace  \(body["workspace"] ?? "?")
                  store      \(body["store"] ?? "?")
                  sessions   \(counts["sessions"] ?? "?"), messages \(counts["messages"] ?? "?"), audit events \(counts["audit_events"] ?? "?")
                  sockets    \(body["open_sockets"] ?? "?") open; config reloads \(body["config_reloads"] ?? "?")
                """
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the running gateway gracefully: requests in flight finish, the store closes.")

        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let admin = try await client.connect(options)
            let reply = try await client.send(admin, post: "/admin/v1/shutdown")
            guard reply.status == 202 else {
                printError("stop failed with HTTP \(reply.status)")
                throw ExitStatus.failure
            }
            // Wait until the port stops answering so scripts can rely on "stopped" meaning stopped.
            for _ in 0..<100 {
                do {
                    _ = try await admin.get("/health")
                } catch .notRunning {
                    print("gateway at \(admin.baseURL) stopped")
                    return
                } catch {}
                try await Task.sleep(for: .milliseconds(100))
            }
            printError("the gateway accepted the stop request but is still answering after 10 s")
            throw ExitStatus.failure
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reload the configuration of the running gateway (same as SIGHUP).")

        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let admin = try await client.connect(options)
            let reply = try await client.send(admin, post: "/admin/v1/config/reload")
            if reply.status == 200 {
                print("configuration applied; changed: \(reply.body["changed"] ?? []); needs restart: \(reply.body["restart_required"] ?? [])")
            } else {
                printError("configuration refused, the running one stays:\n" + ((reply.body["issues"] as? [String]) ?? []).map { "  " + $0 }.joined(separator: "\n"))
                throw ExitStatus.invalidConfig
            }
        }
    }
}
