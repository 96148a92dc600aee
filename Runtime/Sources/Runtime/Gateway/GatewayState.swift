public import Foundation
public import Logging
import Synchronization

/// What the routes, the control socket and the services of one running gateway share.
///
/// Everything here is either immutable or guarded by a `Mutex`, so it can be reached from any request.
public final class GatewayState: Sendable {
    public let workspace: Workspace
    public let store: any GatewayStore
    public let authenticator: ControlAuthenticator
    public let logger: Logger
    public let logSink: LogSink
    public let startedAt: Date
    let configLoader: ConfigLoader
    private let liveConfig: LiveConfig
    private let listeningAddress = Mutex<(host: String, port: Int)?>(nil)
    private let shutdownHandler = Mutex<(@Sendable () async -> Void)?>(nil)
    private let reloadCounter = Atomic<Int>(0)
    let openSockets = Atomic<Int>(0)
    public let router: ModelRouter
    public let tools: ToolRegistry
    public let plugins: PluginCatalog
    public let skills: SkillCatalog
    public let traces: TraceRecorder
    public let stats: GatewayStats
    public let webChat: WebChatHub
    public let agent: Agent
    public let pipeline: MessagePipeline
    public let limiter: RateLimiter
    public let gate: ChannelGate
    public let channels: ChannelHost
    public let hooks: HookChannels

    init(
        workspace: Workspace,
        config: GatewayConfig,
        configLoader: ConfigLoader,
        store: any GatewayStore,
        authenticator: ControlAuthenticator,
        logSink: LogSink,
        startedAt: Date = Date()
    ) {
        self.workspace = workspace
        self.liveConfig = LiveConfig(config)
        self.configLoader = configLoader
        self.store = store
        self.authenticator = authenticator
        self.logSink = logSink
        self.logger = logSink.makeLogger(label: "swiftlet.gateway")
        self.startedAt = startedAt
        let liveConfig = self.liveConfig
        let configuration: @Sendable () -> GatewayConfig = { liveConfig.current }
        router = ModelRouter(maxConnections: max(64, config.sessions.maxConcurrency), logger: logSink.makeLogger(label: "swiftlet.router"))
        router.apply(config)
        tools = ToolRegistry([CurrentTimeTool()])
        traces = TraceRecorder(store: store, logger: logSink.makeLogger(label: "swiftlet.trace"))
        stats = GatewayStats()
        webChat = WebChatHub()
        agent = Agent(store: store, router: router, tools: tools, traces: traces, workspace: workspace, configuration: configuration)
        pipeline = MessagePipeline(
            store: store, agent: agent, traces: traces, stats: stats, logger: logSink.makeLogger(label: "swiftlet.pipeline"), configuration: configuration)
        pipeline.register(webChat)
        limiter = RateLimiter()
        let channelLogger = logSink.makeLogger(label: "swiftlet.channels")
        gate = ChannelGate(pipeline: pipeline, store: store, limiter: limiter, workspace: workspace.root, logger: channelLogger, configuration: configuration)
        channels = ChannelHost(gate: gate, pipeline: pipeline, workspace: workspace.root, logger: channelLogger)
        hooks = HookChannels(pipeline: pipeline, configuration: configuration)
        hooks.registerConfigured()
        plugins = PluginCatalog(
            workspace: workspace, store: store, tools: tools, logger: logSink.makeLogger(label: "swiftlet.plugins"), variables: configLoader.environment,
            redactor: logSink.redactor, channels: channels)
        let (store, skillLogger) = (store, logSink.makeLogger(label: "swiftlet.skills"))
        skills = SkillCatalog(
            workspace: workspace, tools: tools, logger: skillLogger, variables: configLoader.environment,
            audit: { type, details in
                do {
                    _ = try await store.appendAudit(AuditEvent(eventType: type, userID: "system", payload: details))
                } catch {
                    skillLogger.error("audit row not written", metadata: ["event": "\(type)", "error": "\(error)"])
                }
            })
    }

    /// The configuration in force (the last one that validated).
    public var config: GatewayConfig { liveConfig.current }

    public var configReloads: Int { reloadCounter.load(ordering: .relaxed) }

    /// Host and port actually bound, once the server listens.
    public var listening: (host: String, port: Int)? { listeningAddress.withLock { $0 } }

    func markListening(host: String, port: Int) {
        listeningAddress.withLock { $0 = (host, port) }
    }

    func setShutdownHandler(_ handler: @escaping @Sendable () async -> Void) {
        shutdownHandler.withLock { $0 = handler }
    }

    /// Starts a graceful shutdown: no new connections, in-flight requests finish, the store closes.
    public func requestShutdown() async {
        let handler = shutdownHandler.withLock { $0 }
        await handler?()
    }

    /// Writes an audit row; a failure to write is logged, never swallowed silently.
    /// Stops what holds processes, connections and clients (channel plugins, skills, webhook callbacks, providers),
    /// before the store closes.
    func shutdownServices() async {
        await plugins.shutdown()
        await skills.shutdown()
        await hooks.shutdown()
        await router.shutdown()
    }

    func audit(_ event: AuditEvent) async {
        do {
            try await store.appendAudit(event)
        } catch {
            logger.error("audit write failed", metadata: ["event_type": "\(event.eventType)", "error": "\(error)"])
        }
    }

    /// Re-reads the configuration. An invalid one is refused and the running one stays.
    public func reloadConfig(trigger: String, principal: String) async -> ConfigReloadResult {
        let old = config
        let result: ConfigReloadResult
        do {
            let new = try configLoader.load()
            if let refusal = BindPolicy.refusal(bind: new.gateway.bind, auth: new.gateway.auth) {
                throw ConfigError([ConfigIssue(source: new.resolved["gateway.auth"].source, keyPath: "gateway.auth", message: refusal)])
            }
            let changed = new.changedKeys(from: old)
            liveConfig.replace(with: new)
            for secret in new.secretValues { logSink.redactor.register(secret) }
            router.apply(new)
            hooks.registerConfigured()
            try? logSink.update(LogSink.settings(for: new, workspace: workspace))
            reloadCounter.add(1, ordering: .relaxed)
            result = .applied(changed: changed.filter { !$0.requiresRestart }.map(\.path), restartRequired: changed.filter(\.requiresRestart).map(\.path))
        } catch let error as ConfigError {
            result = .refused(error)
        } catch {
            result = .refused(ConfigError([ConfigIssue(source: .defaults, keyPath: "", message: "\(error)")]))
        }
        switch result {
        case .applied(let changed, let restartRequired):
            logger.notice("configuration reloaded", metadata: ["trigger": "\(trigger)", "changed": "\(changed)", "restart_required": "\(restartRequired)"])
            await audit(AuditEvent(eventType: "config.reloaded", userID: principal, payload: ["trigger": trigger, "changed": changed.joined(separator: ","), "restart_required": restartRequired.joined(separator: ",")]))
        case .refused(let error):
            logger.error("configuration reload refused; the running configuration stays", metadata: ["trigger": "\(trigger)", "errors": "\(error.issues.map(\.description))"])
            await audit(AuditEvent(eventType: "config.reload_refused", userID: principal, payload: ["trigger": trigger, "errors": error.issues.map(\.description).joined(separator: "\n")]))
        }
        return result
    }
}

/// The outcome of a configuration reload.
public enum ConfigReloadResult: Sendable {
    /// Applied; `changed` took effect, `restartRequired` keys changed but need a restart.
    case applied(changed: [String], restartRequired: [String])
    /// Refused with every issue; the previous configuration keeps running.
    case refused(ConfigError)
}

/// The configuration in force, shared by reference with the components that read it per use.
final class LiveConfig: Sendable {
    private let value: Mutex<GatewayConfig>

    init(_ config: GatewayConfig) {
        value = Mutex(config)
    }

    var current: GatewayConfig { value.withLock { $0 } }

    func replace(with config: GatewayConfig) {
        value.withLock { $0 = config }
    }
}

extension ModelRouter {
    /// Configures providers, models and failover policy from one configuration.
    func apply(_ config: GatewayConfig) {
        configure(providers: config.providers, models: config.agent.models, policy: config.route)
    }
}
