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
            .init(
                path: "channels.*",
                doc: "One channel by name: a channel plugin registered under that name in tools.json, or a webhook channel (hook.secret or hook.token set). Who may talk to the assistant there."),
            .init(
                path: "channels.*.hook",
                doc: "A generic inbound webhook at POST /hooks/<name> for other systems: HMAC-signed or token-authenticated, answered in the response or at a callback URL."),
            .init(path: "limits", doc: "Rate limits on inbound messages and public HTTP routes; answered politely (a reply or a 429 with Retry-After), never dropped silently."),
            .init(path: "media", doc: "Files that arrive with messages: downloaded into the workspace and handed to the model."),
            .init(path: "providers", doc: "Model providers, one entry per account or server. The entry name is used in model refs: providers.openai + model gpt-4o-mini is openai/gpt-4o-mini."),
            .init(path: "providers.*", doc: "One provider (name: lower-case letters, digits, _)."),
            .init(path: "agent", doc: "The assistant: which models answer, its persona, its tool loop and its context budget."),
            .init(path: "router", doc: "Model failover: retries, backoff and the per-provider circuit breaker."),
            .init(path: "sessions", doc: "How conversations are keyed, reset and run (one ordered lane per session)."),
            .init(path: "outbox", doc: "Durable reply delivery: retries with backoff, idempotency keys."),
            .init(path: "api", doc: "HTTP APIs for other programs."),
            .init(path: "api.openai", doc: "OpenAI-compatible /v1/chat/completions and /v1/models, with Bearer auth (control tokens)."),
            .init(path: "tools", doc: "Who may trigger which tool. What each tool may reach is tools.json's business; this is about who asks."),
            .init(path: "tools.rules", doc: "One entry per function name (fs_write) or plugin name (fs): the rule for the function wins over its plugin's."),
            .init(path: "tools.rules.*", doc: "Who may trigger this function, or every function of this plugin."),
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
                doc: "How long running turns may go on after SIGTERM before they are cut (cut turns stay pending and are answered after the restart).",
                requiresRestart: true),
            ConfigKey(
                "gateway.header_timeout", .duration, default: .duration(.seconds(10)),
                doc: "Time a new connection has to send its first complete request head; a slower one gets 408 and is closed.",
                requiresRestart: true),
            ConfigKey(
                "gateway.idle_timeout", .duration, default: .duration(.seconds(60)),
                doc: "An HTTP connection that sends no new request, or no more of a request body, for this long is closed. "
                    + "WebSockets are exempt (they are pinged).",
                requiresRestart: true),
            ConfigKey(
                "gateway.max_connections", .int(1...1_000_000), default: .int(4096),
                doc: "Most open HTTP and WebSocket connections; one more is answered 503 and closed. "
                    + "Lowered at start to fit the open-file limit, which keeps 256 files for the store, providers and plugins.",
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
            ConfigKey(
                "store.sqlite.synchronous", .choice(["normal", "full"]), default: .string("normal"),
                doc: "normal: every acknowledged message survives a crash or kill of the gateway; full: also a power cut (an fsync per commit, slower).",
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
            ConfigKey(
                "channels.*.dm_policy", .choice(ChannelAccess.DirectPolicy.allCases.map(\.rawValue)), default: .string("pairing"),
                doc: "Direct messages: pairing (a stranger gets a code the owner approves with `swiftlet pairing approve`), allowlist (only allow_from and approved senders), open (everyone), disabled."),
            ConfigKey(
                "channels.*.allow_from", .stringList, default: .list([]),
                doc: "Senders admitted without pairing, as the channel names them (a Telegram user id, a Slack user id, a phone number)."),
            ConfigKey(
                "channels.*.group_policy", .choice(ChannelAccess.GroupPolicy.allCases.map(\.rawValue)), default: .string("mention"),
                doc: "Groups: mention (answer only when the bot is mentioned or replied to), open (every message), disabled."),
            ConfigKey(
                "channels.*.allow_groups", .stringList, default: .list([]),
                doc: "Groups the bot answers in; empty for any group."),
            ConfigKey(
                "channels.*.hook.secret", .string, default: .string(""),
                doc: "HMAC-SHA256 key: callers send X-Swiftlet-Timestamp (Unix seconds) and X-Swiftlet-Signature: sha256=hex(HMAC(secret, timestamp + \".\" + body)); 5 minutes of clock skew allowed.",
                secret: true),
            ConfigKey(
                "channels.*.hook.token", .string, default: .string(""),
                doc: "Bearer token callers send as Authorization: Bearer <token> (simpler than a signature; use HTTPS).", secret: true),
            ConfigKey(
                "channels.*.hook.callback_url", .string, default: .string(""),
                doc: "Where replies are POSTed when the caller asks for them asynchronously (or a synchronous wait times out). Empty: replies only in the response."),
            ConfigKey(
                "channels.*.hook.reply_timeout", .duration, default: .duration(.seconds(60)),
                doc: "How long a synchronous request waits for the reply before it is answered 202 (the reply then goes to the callback URL)."),
            ConfigKey(
                "limits.global_per_minute", .int(0...10_000_000), default: .int(1000),
                doc: "Inbound messages per minute across every channel (the web chat excepted); 0 for no limit."),
            ConfigKey(
                "limits.channel_per_minute", .int(0...10_000_000), default: .int(600),
                doc: "Inbound messages per minute on one channel; 0 for no limit."),
            ConfigKey(
                "limits.sender_per_minute", .int(0...10_000_000), default: .int(30),
                doc: "Inbound messages per minute from one sender on one channel; 0 for no limit."),
            ConfigKey(
                "limits.ip_per_minute", .int(0...10_000_000), default: .int(100),
                doc: "Requests per minute from one IP address to the public routes (/hooks, /channels/*/webhook); 0 for no limit."),
            ConfigKey(
                "limits.ip_exempt", .stringList, default: .list([]),
                doc: "Addresses the per-IP limit does not apply to (a reverse proxy, a platform's webhook sender)."),
            ConfigKey(
                "media.max_size", .byteSize, default: .int(20 << 20),
                doc: "Largest inbound file downloaded; a larger one is not fetched and the model is told so."),
            ConfigKey(
                "media.directory", .string, default: .string("media/inbound"),
                doc: "Where inbound files are kept, relative to the workspace (one folder per channel)."),
            ConfigKey(
                "providers.*.kind", .choice(["openai", "anthropic", "ollama"]), default: .string("openai"),
                doc: "Wire format: openai (Chat Completions: OpenAI, vLLM, llama.cpp, LM Studio, DeepSeek, OpenRouter, Ollama /v1), anthropic (Messages), ollama (native /api/chat)."),
            ConfigKey(
                "providers.*.base_url", .string, default: .string(""),
                doc: "API base URL. Empty: https://api.openai.com/v1, https://api.anthropic.com or http://127.0.0.1:11434 by kind."),
            ConfigKey(
                "providers.*.api_key", .string, default: .string(""),
                doc: "API key, usually ${OPENAI_API_KEY} or the like. Never logged.", secret: true),
            ConfigKey(
                "providers.*.context_window", .int(512...10_000_000), default: .int(32_768),
                doc: "Tokens the provider's models accept (prompt + answer); the context budget is derived from it."),
            ConfigKey(
                "providers.*.tool_choice", .string, default: .string(""),
                doc: "tool_choice sent with the first model call of a turn when tools are offered: auto, required, none or a tool's name; empty sends none (the server decides). Later calls of the turn leave the choice to the model, so a forced call is followed by an answer."),
            ConfigKey(
                "providers.*.extra_body", .jsonObject, default: .string(""),
                doc: "Fields added to every request body of this provider, as a JSON object (a server's own sampling options, such as llama.cpp's top_k, repeat_penalty or logit_bias); the gateway's own fields win."),
            ConfigKey(
                "providers.*.connect_timeout", .duration, default: .duration(.seconds(10)),
                doc: "Time to open the connection."),
            ConfigKey(
                "providers.*.first_token_timeout", .duration, default: .duration(.seconds(60)),
                doc: "Time from the request to the first streamed token (or the whole answer when not streaming)."),
            ConfigKey(
                "providers.*.idle_timeout", .duration, default: .duration(.seconds(30)),
                doc: "Longest silence between two chunks of a streamed answer."),
            ConfigKey(
                "providers.*.total_timeout", .duration, default: .duration(.seconds(300)),
                doc: "Longest time for one whole call."),
            ConfigKey(
                "agent.models", .stringList, default: .list([]),
                doc: "Ordered model refs provider/model, e.g. [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]. Empty: every message is answered with a note that no model is configured."),
            ConfigKey(
                "agent.strategy", .choice(["fallback", "round-robin"]), default: .string("fallback"),
                doc: "fallback: always try models in order; round-robin: rotate the first choice per call, the rest stay fallbacks."),
            ConfigKey(
                "agent.name", .string, default: .string("swiftlet"),
                doc: "The agent's name; the OpenAI-compatible API lists it as a model."),
            ConfigKey(
                "agent.persona_file", .string, default: .string("PERSONA.md"),
                doc: "System prompt file, relative to the workspace; a built-in prompt is used when it is missing."),
            ConfigKey(
                "agent.max_output_tokens", .int(16...1_000_000), default: .int(2048),
                doc: "Largest answer requested from the model per call."),
            ConfigKey(
                "agent.max_tool_iterations", .int(1...100), default: .int(8),
                doc: "Model calls per turn when the model keeps calling tools; then the turn ends with what it has."),
            ConfigKey(
                "agent.compaction_threshold", .int(10...95), default: .int(75),
                doc: "Percent of the context budget at which older turns are summarised by the model."),
            ConfigKey(
                "agent.keep_recent_messages", .int(2...1000), default: .int(8),
                doc: "Newest messages always kept word for word when older ones are compacted."),
            ConfigKey(
                "router.max_attempts", .int(1...20), default: .int(3),
                doc: "Tries per model for retryable faults (429, 5xx, timeouts, connection errors) before the next model."),
            ConfigKey(
                "router.backoff_base", .duration, default: .duration(.milliseconds(500)),
                doc: "First retry delay; doubled per attempt with full jitter. A Retry-After header wins when longer."),
            ConfigKey(
                "router.backoff_max", .duration, default: .duration(.seconds(20)),
                doc: "Longest retry delay, Retry-After included: a longer Retry-After moves on to the next model."),
            ConfigKey(
                "router.breaker_threshold", .int(1...100), default: .int(5),
                doc: "Consecutive failed calls that open a provider's circuit breaker."),
            ConfigKey(
                "router.breaker_cooldown", .duration, default: .duration(.seconds(30)),
                doc: "How long an open breaker skips its provider before one trial call."),
            ConfigKey(
                "sessions.dm_scope", .choice(["main", "per-peer", "per-channel-peer"]), default: .string("per-channel-peer"),
                doc: "Direct messages: one shared main session, one per peer across channels, or one per channel and peer. Groups and threads always get their own."),
            ConfigKey(
                "sessions.idle_reset", .duration, default: .duration(.zero),
                doc: "Start a fresh session after this long without messages; 0 never."),
            ConfigKey(
                "sessions.daily_reset_hour", .int(-1...23), default: .int(-1),
                doc: "Start fresh sessions each day at this local hour; -1 never."),
            ConfigKey(
                "sessions.max_concurrency", .int(1...100_000), default: .int(256),
                doc: "Turns running at once across all sessions (each session is always one at a time, in order).",
                requiresRestart: true),
            ConfigKey(
                "sessions.queue", .choice(["followup", "collect", "steer"]), default: .string("followup"),
                doc: "Messages that arrive while a turn of their session runs: followup answers each in its own turn, in order; collect answers those waiting together in the next turn; steer adds them to the running turn before its next model call."),
            ConfigKey(
                "sessions.collect_limit", .int(1...100), default: .int(10),
                doc: "Messages one turn answers together at most (sessions.queue collect or steer)."),
            ConfigKey(
                "outbox.max_attempts", .int(1...100), default: .int(20),
                doc: "Delivery attempts per reply before it is marked failed (visible in swiftlet trace); 20 rides out about an hour of platform outage."),
            ConfigKey(
                "outbox.retry_base", .duration, default: .duration(.seconds(1)),
                doc: "First delivery retry delay, doubled per attempt up to 5 minutes."),
            ConfigKey(
                "api.openai.enabled", .bool, default: .bool(false),
                doc: "Serve POST /v1/chat/completions and GET /v1/models (Bearer control token)."),
            ConfigKey(
                "tools.owners", .stringList, default: .list(["webchat:*", "api:*"]),
                doc: "Who the owner is, as channel:sender (channel:* for everyone on a channel). The web chat and the OpenAI-compatible API need a control token, so they are the owner."),
            ConfigKey(
                "tools.default_allow", .stringList, default: .list(["everyone"]),
                doc: "Who may trigger a tool that no rule names: everyone, owner, channel:sender or channel:* entries; [] for nobody."),
            ConfigKey(
                "tools.rules.*.allow", .stringList, default: .list(["owner"]),
                doc: "Who may trigger it: everyone, owner, channel:sender or channel:* entries; [] for nobody. The model is not offered a tool its sender may not trigger."),
        ]
    )
}
