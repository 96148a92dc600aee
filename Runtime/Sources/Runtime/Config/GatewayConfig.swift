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
    }

    public struct WebChat: Sendable, Equatable {
        public var enabled: Bool
        public var maxMessageSize: Int
        public var maxFrameSize: Int
        public var historyLimit: Int
    }

    public var gateway: Gateway
    public var control: Control
    public var logging: Logging
    public var store: Store
    public var webchat: WebChat
    public let resolved: ResolvedConfig

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
            shutdownGrace: v.duration("gateway.shutdown_grace"))
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
            busyTimeout: v.duration("store.sqlite.busy_timeout"))
        webchat = WebChat(
            enabled: v.bool("channels.webchat.enabled"),
            maxMessageSize: v.int("channels.webchat.max_message_size"),
            maxFrameSize: v.int("channels.webchat.max_frame_size"),
            historyLimit: v.int("channels.webchat.history_limit"))
    }

    /// Keys whose values differ between two configurations, in schema order.
    public func changedKeys(from old: GatewayConfig) -> [ConfigKey] {
        resolved.schema.keys.filter { resolved.values[$0.path]?.value != old.resolved.values[$0.path]?.value }
    }
}
