import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// One gateway process: opens the workspace and store, serves HTTP and WebSocket, and runs until a
/// graceful shutdown (SIGTERM, SIGINT, `swiftlet gateway stop`).
///
/// ```swift
/// let config = try ConfigLoader(workspace: workspace).load()
/// let gateway = try await Gateway.open(config: config, loader: loader, logSink: sink)
/// try await gateway.run { endpoint in print("listening on", endpoint.port) }
/// ```
public final class Gateway: Sendable {
    /// Where the server listens once it runs.
    public struct Endpoint: Sendable {
        public var host: String
        public var port: Int
        public var baseURL: String
    }

    public let state: GatewayState
    /// The control token created at this start (first start only); show it once, never log it.
    public let newControlToken: String?

    private init(state: GatewayState, newControlToken: String?) {
        self.state = state
        self.newControlToken = newControlToken
    }

    /// Checks the configuration against the bind policy, prepares the workspace and opens the store.
    public static func open(config: GatewayConfig, loader: ConfigLoader, logSink: LogSink) async throws(GatewayError) -> Gateway {
        let workspace = loader.workspace
        if let refusal = BindPolicy.refusal(bind: config.gateway.bind, auth: config.gateway.auth) {
            throw .insecureBind(refusal)
        }
        do {
            try workspace.prepareStateDirectories()
        } catch {
            throw .workspace(error.description)
        }
        let store: SQLiteStore
        do {
            store = try SQLiteStore(path: workspace.path(config.store.sqlitePath).path, busyTimeout: config.store.busyTimeout, synchronous: config.store.synchronous)
        } catch {
            throw .store("\(error)")
        }
        let signingKey: String
        do {
            signingKey = try SigningKeyFile.key(for: config, in: workspace)
        } catch {
            throw .workspace("\(error)")
        }
        logSink.redactor.register(signingKey)
        for secret in config.secretValues { logSink.redactor.register(secret) }
        let authenticator = ControlAuthenticator(store: store, signer: await ControlTokenSigner(signingKey: signingKey))
        let token: String?
        do {
            token = try await authenticator.bootstrapControlToken()
        } catch {
            throw .store("cannot create the control token: \(error)")
        }
        if let token { logSink.redactor.register(token) }
        let state = GatewayState(workspace: workspace, config: config, configLoader: loader, store: store, authenticator: authenticator, logSink: logSink)
        do {
            // A plugin that fails to load is reported and skipped; only an unusable tools.json stops the start.
            try await state.plugins.loadAll()
            try await state.skills.reload()
        } catch {
            await state.shutdownServices()
            try? await store.close()
            throw .tools("\(error)")
        }
        return Gateway(state: state, newControlToken: token)
    }

    /// Serves until shutdown. `onReady` runs once the socket listens.
    ///
    /// - Parameters:
    ///   - handleSignals: trap SIGTERM/SIGINT (graceful shutdown) and SIGHUP (config reload); tests that run
    ///     several gateways in one process pass false and stop them with ``GatewayState/requestShutdown()``.
    ///   - onReady: called with the bound address.
    public func run(handleSignals: Bool = true, onReady: @escaping @Sendable (Endpoint) async -> Void = { _ in }) async throws(GatewayError) {
        let state = self.state
        let config = state.config
        let router = GatewayRouter.build(state: state)
        let httpLogger = state.logSink.makeLogger(label: "swiftlet.http")
        let limiter = ConnectionLimiter(cap: Self.connectionCap(config: config.gateway, logger: state.logger), logger: httpLogger)
        let app = Application(
            router: router,
            server: .gateway(
                webSocketRouter: router,
                configuration: .init(
                    http1: .init(idleTimeout: TimeAmount(config.gateway.idleTimeout)),
                    ws: .init(maxFrameSize: config.webchat.maxFrameSize, autoPing: .enabled(timePeriod: .seconds(30)), validateUTF8: true)),
                limiter: limiter, headerTimeout: config.gateway.headerTimeout),
            configuration: .init(address: .hostname(config.gateway.bind, port: config.gateway.port), serverName: "swiftlet/\(SwiftletVersion.current)"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.gateway.port
                let host = config.gateway.bind
                state.markListening(host: host, port: port)
                RuntimeFile.write(RuntimeFile.Contents(pid: Int(getpid()), bind: host, port: port, version: SwiftletVersion.current, startedAt: state.startedAt), to: state.workspace.runtimeFile)
                state.logger.notice("gateway listening", metadata: ["bind": "\(host)", "port": "\(port)", "workspace": "\(state.workspace.root.path)"])
                await state.audit(AuditEvent(eventType: "gateway.started", userID: "system", payload: ["bind": host, "port": String(port), "version": SwiftletVersion.current]))
                await onReady(Endpoint(host: host, port: port, baseURL: Self.baseURL(config: state.config, host: host, port: port)))
            },
            logger: httpLogger)

        // Shut down in reverse order. The pipeline hears of it first: no turn starts any more, running ones get
        // `gateway.shutdown_grace`, then are cut (they stay pending), and its last writes are made, while the server
        // still answers (a webhook waiting for its reply gets it; new messages are journaled for the next start).
        // Then the server stops taking requests and finishes those in flight, and the store closes last.
        let hooks = state.hooks
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: StoreService(state: state)),
            .init(service: app),
            .init(service: MessagePipelineService(pipeline: state.pipeline, grace: config.gateway.shutdownGrace, onDrained: { hooks.releaseWaiters() })),
        ]
        if handleSignals { services.append(.init(service: ConfigReloadOnHangup(state: state))) }
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: state.logSink.makeLogger(label: "swiftlet.lifecycle"))
        if handleSignals { groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint] }
        // A backstop only: the pipeline bounds itself by the grace plus the time cut turns take to end.
        groupConfiguration.maximumGracefulShutdownDuration = config.gateway.shutdownGrace + .seconds(20)
        let group = ServiceGroup(configuration: groupConfiguration)
        state.setShutdownHandler { await group.triggerGracefulShutdown() }
        defer { RuntimeFile.remove(state.workspace.runtimeFile, ifOwnedBy: Int(getpid())) }
        do {
            try await group.run()
        } catch {
            throw GatewayError.classify(error, bind: config.gateway.bind, port: config.gateway.port)
        }
    }

    /// Raises the soft open-file limit to the hard one and returns `gateway.max_connections`, lowered when
    /// the limit cannot hold that many sockets besides the files the gateway needs itself.
    static func connectionCap(config: GatewayConfig.Gateway, logger: Logger) -> Int {
        guard let limits = OpenFileLimit.raiseSoftLimit() else {
            logger.warning("cannot read the open-file limit; gateway.max_connections applies as configured")
            return config.maxConnections
        }
        logger.info(
            "open-file limit", metadata: ["soft_at_start": "\(limits.before.soft)", "soft": "\(limits.after.soft)", "hard": "\(limits.after.hard)"])
        let cap = ConnectionLimiter.effectiveCap(configured: config.maxConnections, openFileLimit: limits.after.soft)
        if cap < config.maxConnections {
            logger.warning(
                "gateway.max_connections lowered to fit the open-file limit; raise the hard limit (ulimit -Hn, LimitNOFILE=) to allow more",
                metadata: ["configured": "\(config.maxConnections)", "cap": "\(cap)", "open_file_limit": "\(limits.after.soft)"])
        }
        return cap
    }

    static func baseURL(config: GatewayConfig, host: String, port: Int) -> String {
        if !config.gateway.publicURL.isEmpty { return String(config.gateway.publicURL.trimmingSuffix("/")) }
        let shownHost = host.contains(":") ? "[\(host)]" : (host == "0.0.0.0" ? "127.0.0.1" : host)
        return "http://\(shownHost):\(port)"
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : Substring(self)
    }

    /// `replacement` for an empty string, as in "providers: none".
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}

/// Why a gateway could not start or stopped with an error; each case names the fix.
public enum GatewayError: Error, Sendable, CustomStringConvertible {
    case insecureBind(String)
    case workspace(String)
    case store(String)
    case portInUse(bind: String, port: Int)
    case server(String)
    case tools(String)

    public var description: String {
        switch self {
        case .insecureBind(let reason): reason
        case .workspace(let reason): "workspace unusable: \(reason)"
        case .store(let reason): "store unusable: \(reason)"
        case .portInUse(let bind, let port):
            "port \(port) on \(bind) is already in use: another gateway (`swiftlet gateway status`) or another program holds it; stop it or choose --port"
        case .server(let reason): "server failed: \(reason)"
        case .tools(let reason): "tools.json unusable: \(reason)"
        }
    }

    static func classify(_ error: any Error, bind: String, port: Int) -> GatewayError {
        if let gatewayError = error as? GatewayError { return gatewayError }
        if let ioError = error as? IOError, ioError.errnoCode == EADDRINUSE { return .portInUse(bind: bind, port: port) }
        if "\(error)".contains("Address already in use") { return .portInUse(bind: bind, port: port) }
        return .server("\(error)")
    }
}

/// Keeps the store open while the gateway runs and closes it last, after the server has drained.
struct StoreService: Service {
    let state: GatewayState

    func run() async throws {
        try? await gracefulShutdown()
        // Runs even when the group is cancelled (a failed start, a shutdown past its backstop): an unstructured task
        // is not cancelled with this one, so the pipeline's last writes land first, the last audit row is written
        // and the store is closed cleanly in every case.
        let state = self.state
        try await Task {
            await state.pipeline.waitUntilStopped(upTo: .seconds(15))
            await state.audit(AuditEvent(eventType: "gateway.stopped", userID: "system", payload: ["uptime_seconds": String(Int(Date().timeIntervalSince(state.startedAt)))]))
            await state.shutdownServices()
            state.logger.notice("gateway stopped; closing the store")
            try await state.store.close()
        }.value
    }
}

/// Reloads the configuration on SIGHUP.
struct ConfigReloadOnHangup: Service {
    let state: GatewayState

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                _ = await state.reloadConfig(trigger: "SIGHUP", principal: "system")
            }
        }
    }
}
