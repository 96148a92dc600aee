import Foundation
import PluginAPI

/// The `config` object of the plugin's tools.json entry.
///
/// ```json
/// {"base_url": "https://slack.com/api", "bot_user_id": "U0123ABCD", "mode": "events"}
/// ```
///
/// Without `bot_user_id` the plugin asks `auth.test` at start. `mode` is `events` (Slack POSTs to the webhook, the
/// default) or `socket` (Socket Mode: the plugin opens WebSocket connections to Slack and needs no public URL).
struct SlackSettings: Sendable, Equatable {
    static let defaultBaseURL = "https://slack.com/api"

    enum Mode: String, Sendable, Equatable {
        case events
        case socket
    }

    var baseURL: String
    var botUserID: String?
    var mode: Mode

    init(baseURL: String = defaultBaseURL, botUserID: String? = nil, mode: Mode = .events) {
        self.baseURL = baseURL
        self.botUserID = botUserID
        self.mode = mode
    }

    static func parse(_ json: String) throws(ChannelSetupError) -> SlackSettings {
        let object = try ChannelConfig.object(json, plugin: "slack")
        var settings = SlackSettings(baseURL: try ChannelConfig.baseURL(in: object, default: defaultBaseURL))
        if let value = object["mode"] {
            guard let text = value as? String, let mode = Mode(rawValue: text) else { throw ChannelSetupError("config.mode must be events or socket") }
            settings.mode = mode
        }
        if let value = object["bot_user_id"] {
            guard let text = value as? String, !text.isEmpty else { throw ChannelSetupError("config.bot_user_id must be the bot's Slack user id (U…)") }
            settings.botUserID = text
        }
        return settings
    }
}

/// Where a reply goes: a conversation, and the thread inside it when there is one (`C0123` or `C0123:1712345678.000200`).
struct SlackTarget: Sendable, Equatable {
    var channel: String
    var threadTS: String?

    init(channel: String, threadTS: String? = nil) {
        self.channel = channel
        self.threadTS = threadTS
    }

    init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let channel = parts.first, !channel.isEmpty else { return nil }
        self.channel = channel
        threadTS = parts.count > 1 && !parts[1].isEmpty ? parts[1] : nil
    }

    var text: String { threadTS.map { "\(channel):\($0)" } ?? channel }
}
