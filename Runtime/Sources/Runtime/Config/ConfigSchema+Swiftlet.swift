extension ConfigSchema {
    /// Every key swiftlet understands, with its default. Later capabilities add their sections here.
    public static let swiftlet = ConfigSchema(
        sections: [
            .init(path: "gateway", doc: "The HTTP/WebSocket server: where it listens and how it authenticates the control plane."),
            .init(path: "control", doc: "Control-plane tokens for the admin API, the control WebSocket and the dashboard."),
            .init(path: "logging", doc: "JSON line logs to stdout and to a size-rotated file under the workspace."),
            .init(path: "logging.file", doc: "The rotated log file."),
            .init(path: "store", doc: "Durable state: sessions, transcripts, control tokens, audit log."),
            .init(path: "store.sqlite", doc: "The embedded SQLite database (WAL mode)."),
            .init(path: "channels", doc: "Chat channels."),
            .init(path: "channels.webchat", doc: "The built-in web chat served at / over the control WebSocket."),
        ],
        keys: [
            ConfigKey(
                "gateway.bind", .string, default: .string("127.0.0.1"),
                doc: "Address to listen on. Anything but loopback is refused unless gateway.auth is token.",
                requiresRestart: true),
            ConfigKey(
                "gateway.port", .int(0...65_535), default: .int(18_789),
                doc: "TCP port for HTTP and WebSocket. 0 picks a free port (printed at start).",
                requiresRestart: true),
            ConfigKey(
                "gateway.auth", .choice(["token", "none"]), default: .string("token"),
                doc: "Control-plane authentication: token (required off loopback) or none (loopback only).",
                requiresRestart: true),
            ConfigKey(
                "gateway.dev", .bool, default: .bool(false),
                doc: "Developer mode: debug-level, human-readable logs on stdout.", requiresRestart: true),
            ConfigKey(
                "gateway.public_url", .string, default: .string(""),
                doc: "Base URL printed in dashboard links when the gateway sits behind a proxy; empty means http://bind:port."),
            ConfigKey(
                "gateway.max_body_size", .byteSize, default: .int(1 << 20),
                doc: "Largest HTTP request body accepted; larger bodies get 413.", requiresRestart: true),
            ConfigKey(
                "gateway.shutdown_grace", .duration, default: .duration(.seconds(10)),
                doc: "How long in-flight requests may run after SIGTERM before the server closes them.",
                requiresRestart: true),
            ConfigKey(
                "control.signing_key", .string, default: .string(""),
                doc: "Key that signs dashboard tokens (32+ characters). Empty: generated once and kept in data/control.key.",
                secret: true, requiresRestart: true),
            ConfigKey(
                "control.token_ttl", .duration, default: .duration(.seconds(8 * 3600)),
                doc: "Default lifetime of `swiftlet dashboard --token-gen` tokens."),
            ConfigKey(
                "control.session_ttl", .duration, default: .duration(.seconds(12 * 3600)),
                doc: "Lifetime of the browser session cookie a URL token is exchanged for (never beyond the token's own expiry)."),
            ConfigKey(
                "logging.level", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
                default: .string("info"), doc: "Lowest level written."),
            ConfigKey(
                "logging.format", .choice(["json", "text"]), default: .string("json"),
                doc: "Format on stdout: json lines, or text for people. The file is always JSON lines."),
            ConfigKey("logging.stdout", .bool, default: .bool(true), doc: "Write logs to stdout."),
            ConfigKey("logging.file.enabled", .bool, default: .bool(true), doc: "Write logs to the rotated file."),
            ConfigKey(
                "logging.file.path", .string, default: .string("logs/swiftlet.log"),
                doc: "Log file, relative to the workspace.", requiresRestart: true),
            ConfigKey(
                "logging.file.max_size", .byteSize, default: .int(10 << 20),
                doc: "Size at which the file is rotated."),
            ConfigKey(
                "logging.file.keep", .int(1...100), default: .int(5),
                doc: "Rotated files kept (swiftlet.log.1 ... .N)."),
            ConfigKey(
                "store.backend", .choice(["sqlite"]), default: .string("sqlite"),
                doc: "Storage backend.", requiresRestart: true),
            ConfigKey(
                "store.sqlite.path", .string, default: .string("data/swiftlet.sqlite"),
                doc: "Database file, relative to the workspace.", requiresRestart: true),
            ConfigKey(
                "store.sqlite.busy_timeout", .duration, default: .duration(.seconds(5)),
                doc: "How long a writer waits for a lock held by another process (the CLI, a second gateway).",
                requiresRestart: true),
            ConfigKey("channels.webchat.enabled", .bool, default: .bool(true), doc: "Serve the web chat at /."),
            ConfigKey(
                "channels.webchat.max_message_size", .byteSize, default: .int(16 << 10),
                doc: "Largest chat message accepted; larger ones are answered with an error frame."),
            ConfigKey(
                "channels.webchat.max_frame_size", .byteSize, default: .int(1 << 20),
                doc: "Largest WebSocket frame; a larger one closes the socket with 1009 (message too big).",
                requiresRestart: true),
            ConfigKey(
                "channels.webchat.history_limit", .int(1...1000), default: .int(50),
                doc: "Messages returned by chat.history."),
        ]
    )
}
