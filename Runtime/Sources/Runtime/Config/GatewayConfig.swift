import Foundation
public import Logging

/// The typed, validated configuration the gateway runs on.
///
/// Built from a ``ResolvedConfig`` which keeps each value's source for `config show`.
public struct GatewayConfig: Sendable {
    public enum AuthMode: String, Sendable { case token, none }
    public enum LogFormat: String, Sendable { case json, text }

    public struct Gateway: Sendable, Equatable {
        public var bind: String
        public var port: Int
        public var auth: AuthMode
        public var dev: Bool
        public var publicURL: String
        public var maxBodySize: Int
        public var shutdownGrace: Duration
        public var headerTimeout: Duration
        public var idleTimeout: Duration
        public var maxConnections: Int
    }

    public struct Control: Sendable, Equatable {
        /// nil when the key is generated and kept in the workspace.
        public var signingKey: String?
        public var tokenTTL: Duration
        public var sessionTTL: Duration
    }

    public struct Logging: Sendable, Equatable {
        public var level: Logger.Level
        public var format: LogFormat
        public var stdout: Bool
        public var fileEnabled: Bool
        public var filePath: String
        public var fileMaxSize: Int
        public var fileKeep: Int
    }

    public struct Store: Sendable, Equatable {
        public var backend: String
        public var sqlitePath: String
        public var busyTimeout: Duration
        public var synchronous: String
    }

    public struct WebChat: Sendable, Equatable {
        public var enabled: Bool
        public var maxMessageSize: Int
        public var maxFrameSize: Int
        public var historyLimit: Int
    }

    public struct Agent: Sendable, Equatable {
        public var models: [ModelRef]
        public var name: String
        public var personaFile: String
        public var maxOutputTokens: Int
        public var maxToolIterations: Int
        public var compactionThreshold: Int
        public var keepRecentMessages: Int
    }

    public struct Sessions: Sendable, Equatable {
        public var dmScope: DirectMessageScope
        public var reset: ResetPolicy
        public var maxConcurrency: Int
        public var queue: QueueMode
        /// Messages one turn answers together at most (`collect`, `steer`).
        public var collectLimit: Int

        /// How many waiting messages the next turn of a session takes.
        var turnLimit: Int { queue == .followup ? 1 : collectLimit }
    }

    public struct Outbox: Sendable, Equatable {
        public var maxAttempts: Int
        public var retryBase: Duration
    }

    /// A generic webhook channel (`channels.<name>.hook`).
    public struct Hook: Sendable, Equatable {
        public var secret: String
        public var token: String
        public var callbackURL: String
        public var replyTimeout: Duration
    }

    public struct Limits: Sendable, Equatable {
        public var globalPerMinute: Int
        public var channelPerMinute: Int
        public var senderPerMinute: Int
        public var ipPerMinute: Int
        public var ipExempt: [String]
    }

    public struct Media: Sendable, Equatable {
        public var maxSize: Int
        public var directory: String
    }

    public var gateway: Gateway
    public var providers: [ProviderSettings]
    public var agent: Agent
    public var route: RoutePolicy
    public var sessions: Sessions
    public var outbox: Outbox
    public var openAIAPI: Bool
    public var control: Control
    public var logging: Logging
    public var store: Store
    public var webchat: WebChat
    public var tools: ToolPolicy
    /// Access policies of the channels configured under `channels.<name>`; others get ``ChannelAccess``'s defaults.
    public var access: [String: ChannelAccess]
    /// Webhook channels: those with `hook.secret` or `hook.token` set.
    public var hooks: [String: Hook]
    public var limits: Limits
    public var media: Media
    public let resolved: ResolvedConfig

    /// The access policy of `channel`.
    public func access(_ channel: String) -> ChannelAccess { access[channel] ?? ChannelAccess() }

    public init(_ resolved: ResolvedConfig) {
        self.resolved = resolved
        let v = resolved
        gateway = Gateway(
            bind: v.string("gateway.bind"),
            port: v.int("gateway.port"),
            auth: AuthMode(rawValue: v.string("gateway.auth")) ?? .token,
            dev: v.bool("gateway.dev"),
            publicURL: v.string("gateway.public_url"),
            maxBodySize: v.int("gateway.max_body_size"),
            shutdownGrace: v.duration("gateway.shutdown_grace"),
            headerTimeout: v.duration("gateway.header_timeout"),
            idleTimeout: v.duration("gateway.idle_timeout"),
            maxConnections: v.int("gateway.max_connections"))
        let signingKey = v.string("control.signing_key")
        control = Control(
            signingKey: signingKey.isEmpty ? nil : signingKey,
            tokenTTL: v.duration("control.token_ttl"),
            sessionTTL: v.duration("control.session_ttl"))
        logging = Logging(
            level: Logger.Level(rawValue: v.string("logging.level")) ?? .info,
            format: LogFormat(rawValue: v.string("logging.format")) ?? .json,
            stdout: v.bool("logging.stdout"),
            fileEnabled: v.bool("logging.file.enabled"),
            filePath: v.string("logging.file.path"),
            fileMaxSize: v.int("logging.file.max_size"),
            fileKeep: v.int("logging.file.keep"))
        store = Store(
            backend: v.string("store.backend"),
            sqlitePath: v.string("store.sqlite.path"),
            busyTimeout: v.duration("store.sqlite.busy_timeout"),
            synchronous: v.string("store.sqlite.synchronous"))
        webchat = WebChat(
            enabled: v.bool("channels.webchat.enabled"),
            maxMessageSize: v.int("channels.webchat.max_message_size"),
            maxFrameSize: v.int("channels.webchat.max_frame_size"),
            historyLimit: v.int("channels.webchat.history_limit"))
        providers = v.entryNames("providers").map { name in
            let key = { (field: String) in "providers.\(name).\(field)" }
            return ProviderSettings(
                name: name, kind: ProviderSettings.Kind(rawValue: v.string(key("kind"))) ?? .openai, baseURL: v.string(key("base_url")),
                apiKey: v.string(key("api_key")), contextWindow: v.int(key("context_window")), toolChoice: ToolChoice(setting: v.string(key("tool_choice"))),
                extraBody: (try? JSONValue(parsing: v.string(key("extra_body")))).flatMap { if case .object(let fields) = $0 { fields } else { nil } } ?? [:],
                timeouts: ProviderTimeouts(
                    connect: v.duration(key("connect_timeout")), firstToken: v.duration(key("first_token_timeout")), idle: v.duration(key("idle_timeout")),
                    total: v.duration(key("total_timeout"))))
        }
        agent = Agent(
            models: v.list("agent.models").compactMap(ModelRef.init), name: v.string("agent.name"), personaFile: v.string("agent.persona_file"),
            maxOutputTokens: v.int("agent.max_output_tokens"), maxToolIterations: v.int("agent.max_tool_iterations"),
            compactionThreshold: v.int("agent.compaction_threshold"), keepRecentMessages: v.int("agent.keep_recent_messages"))
        route = RoutePolicy(
            strategy: RoutePolicy.Strategy(rawValue: v.string("agent.strategy")) ?? .fallback, maxAttempts: v.int("router.max_attempts"),
            backoffBase: v.duration("router.backoff_base"), backoffMax: v.duration("router.backoff_max"), breakerThreshold: v.int("router.breaker_threshold"),
            breakerCooldown: v.duration("router.breaker_cooldown"))
        sessions = Sessions(
            dmScope: DirectMessageScope(rawValue: v.string("sessions.dm_scope")) ?? .perChannelPeer,
            reset: ResetPolicy(idle: v.duration("sessions.idle_reset"), dailyHour: v.int("sessions.daily_reset_hour")),
            maxConcurrency: v.int("sessions.max_concurrency"), queue: QueueMode(rawValue: v.string("sessions.queue")) ?? .followup,
            collectLimit: v.int("sessions.collect_limit"))
        outbox = Outbox(maxAttempts: v.int("outbox.max_attempts"), retryBase: v.duration("outbox.retry_base"))
        openAIAPI = v.bool("api.openai.enabled")
        var access: [String: ChannelAccess] = [:]
        var hooks: [String: Hook] = [:]
        for name in v.entryNames("channels") {
            let key = { (field: String) in "channels.\(name).\(field)" }
            access[name] = ChannelAccess(
                direct: ChannelAccess.DirectPolicy(rawValue: v.string(key("dm_policy"))) ?? .pairing, allowFrom: v.list(key("allow_from")),
                groups: ChannelAccess.GroupPolicy(rawValue: v.string(key("group_policy"))) ?? .mention, allowGroups: v.list(key("allow_groups")))
            let hook = Hook(
                secret: v.string(key("hook.secret")), token: v.string(key("hook.token")), callbackURL: v.string(key("hook.callback_url")),
                replyTimeout: v.duration(key("hook.reply_timeout")))
            if !hook.secret.isEmpty || !hook.token.isEmpty { hooks[name] = hook }
        }
        self.access = access
        self.hooks = hooks
        limits = Limits(
            globalPerMinute: v.int("limits.global_per_minute"), channelPerMinute: v.int("limits.channel_per_minute"),
            senderPerMinute: v.int("limits.sender_per_minute"), ipPerMinute: v.int("limits.ip_per_minute"), ipExempt: v.list("limits.ip_exempt"))
        media = Media(maxSize: v.int("media.max_size"), directory: v.string("media.directory"))
        // Entries that do not parse are reported by crossKeyIssues, so a configuration in force has none.
        let principals = { (key: String) in v.list(key).compactMap(ToolPolicy.Principal.init) }
        tools = ToolPolicy(
            owners: principals("tools.owners"), defaultAllow: principals("tools.default_allow"),
            rules: Dictionary(uniqueKeysWithValues: v.entryNames("tools.rules").map { ($0, principals("tools.rules.\($0).allow")) }))
    }

    /// The values of every secret key that is set, for the log redactor.
    public var secretValues: [String] {
        resolved.concreteKeys.filter(\.isSecret).compactMap { key in
            if case .string(let secret) = resolved[key.path].value, !secret.isEmpty { return secret }
            return nil
        }
    }

    /// Rules beyond one value's type: every model ref names a configured provider; every tools principal parses;
    /// the server's timeouts are not zero.
    public static func crossKeyIssues(_ resolved: ResolvedConfig) -> [ConfigIssue] {
        modelIssues(resolved) + toolPolicyIssues(resolved) + hookIssues(resolved) + serverTimeoutIssues(resolved)
    }

    /// A zero timeout would close every connection at once; there is no "off", only a long duration.
    static func serverTimeoutIssues(_ resolved: ResolvedConfig) -> [ConfigIssue] {
        ["gateway.header_timeout", "gateway.idle_timeout"].compactMap { key in
            guard resolved.duration(key) <= .zero else { return nil }
            return ConfigIssue(
                source: resolved[key].source, keyPath: key, message: "must be longer than 0s (a zero timeout closes every connection at once)")
        }
    }

    /// A callback URL must be http(s); a hook with a callback URL needs a secret or token to be reachable at all.
    static func hookIssues(_ resolved: ResolvedConfig) -> [ConfigIssue] {
        resolved.entryNames("channels").compactMap { name in
            let key = "channels.\(name).hook.callback_url"
            let url = resolved.string(key)
            guard !url.isEmpty else { return nil }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
                return ConfigIssue(source: resolved[key].source, keyPath: key, message: "'\(url)' is not an http or https URL")
            }
            if resolved.string("channels.\(name).hook.secret").isEmpty && resolved.string("channels.\(name).hook.token").isEmpty {
                return ConfigIssue(source: resolved[key].source, keyPath: key, message: "the webhook channel \(name) needs hook.secret or hook.token")
            }
            return nil
        }
    }

    static func toolPolicyIssues(_ resolved: ResolvedConfig) -> [ConfigIssue] {
        let keys = ["tools.owners", "tools.default_allow"] + resolved.entryNames("tools.rules").map { "tools.rules.\($0).allow" }
        return keys.flatMap { key in
            resolved.list(key).compactMap { text -> ConfigIssue? in
                let principal = ToolPolicy.Principal(text)
                if key == "tools.owners", case .sender? = principal { return nil }
                if key != "tools.owners", principal != nil { return nil }
                let expected = key == "tools.owners" ? "channel:sender or channel:*" : "everyone, owner, channel:sender or channel:*"
                return ConfigIssue(source: resolved[key].source, keyPath: key, message: "'\(text)' is not \(expected)")
            }
        }
    }

    static func modelIssues(_ resolved: ResolvedConfig) -> [ConfigIssue] {
        let providers = Set(resolved.entryNames("providers"))
        let models = resolved["agent.models"]
        return resolved.list("agent.models").compactMap { text in
            guard let ref = ModelRef(text) else {
                return ConfigIssue(source: models.source, keyPath: "agent.models", message: "'\(text)' is not a model ref; write provider/model, e.g. openai/gpt-4o-mini")
            }
            guard providers.contains(ref.provider) else {
                let known = providers.sorted().joined(separator: ", ")
                return ConfigIssue(
                    source: models.source, keyPath: "agent.models",
                    message: "'\(text)' names provider '\(ref.provider)', which is not under providers: (configured: \(known.isEmpty ? "none" : known))")
            }
            return nil
        }
    }

    /// Keys whose values differ between two configurations, in schema order.
    public func changedKeys(from old: GatewayConfig) -> [ConfigKey] {
        let keys = resolved.concreteKeys + old.resolved.concreteKeys.filter { resolved.values[$0.path] == nil }
        return keys.filter { resolved.values[$0.path]?.value != old.resolved.values[$0.path]?.value }
    }
}
