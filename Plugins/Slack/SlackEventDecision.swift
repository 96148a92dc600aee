import Foundation
import PluginAPI

/// What one verified Events API request asks of the plugin: a pure decision over the request body.
///
/// Slack sends a `message` event for every message in a conversation the app is subscribed to, and also an
/// `app_mention` event when the message mentions the bot: a mention in a channel can arrive twice, in either order.
/// Both events carry the same channel and `ts`, and the plugin makes the message's ``InboundMessage/externalID``
/// from exactly those (`<channel>:<ts>`), so the gateway's ingress journal takes the first and answers the second
/// as a duplicate. That way the app works with either subscription alone (`app_mention` only, or `message.*`
/// only) and with both, and Slack's own redeliveries (`X-Slack-Retry-Num`) are recognised the same way.
enum SlackEventDecision: Equatable {
    /// `url_verification`: answer with the challenge.
    case challenge(String)
    case message(InboundMessage)
    /// Nothing to do (another event type, an edit, the bot's own message ...); the reason is logged.
    case ignored(String)
    /// Not an Events API request.
    case invalid(String)

    static func decide(_ body: Data, botUserID: String?, token: String) -> SlackEventDecision {
        guard let envelope = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return .invalid("the body is not a JSON object") }
        return decide(envelope: envelope, botUserID: botUserID, token: token)
    }

    /// The decision over an Events API payload, whether it came as a request body or inside a Socket Mode envelope.
    static func decide(envelope: [String: Any], botUserID: String?, token: String) -> SlackEventDecision {
        switch envelope["type"] as? String {
        case "url_verification":
            guard let challenge = envelope["challenge"] as? String else { return .invalid("url_verification without a challenge") }
            return .challenge(challenge)
        case "event_callback":
            guard let event = envelope["event"] as? [String: Any] else { return .invalid("event_callback without an event") }
            // The installation's bot user, for a start that has not learned it yet.
            let authorizedBot = (envelope["authorizations"] as? [[String: Any]])?.first { $0["is_bot"] as? Bool == true }?["user_id"] as? String
            return decide(event: event, botUserID: botUserID ?? authorizedBot, token: token)
        case let other?:
            return .ignored("envelope type \(other)")
        case nil:
            return .invalid("the body has no type")
        }
    }

    static func decide(event: [String: Any], botUserID: String?, token: String) -> SlackEventDecision {
        let type = event["type"] as? String ?? ""
        guard type == "message" || type == "app_mention" else { return .ignored("event type \(type)") }
        if let subtype = event["subtype"] as? String, subtype != "file_share" { return .ignored("message subtype \(subtype)") }
        if event["bot_id"] != nil { return .ignored("a bot's message") }
        guard let user = event["user"] as? String, !user.isEmpty else { return .ignored("a message without a user") }
        if user == botUserID { return .ignored("the bot's own message") }
        guard let channel = event["channel"] as? String, !channel.isEmpty, let ts = event["ts"] as? String, !ts.isEmpty else {
            return .invalid("a message without channel or ts")
        }
        let rawText = event["text"] as? String ?? ""
        let threadTS = (event["thread_ts"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let channelType = event["channel_type"] as? String
        // app_mention carries no channel_type; direct-message conversation ids start with D.
        let isDirect = channelType.map { $0 == "im" } ?? channel.hasPrefix("D")

        var attachments: [InboundAttachment] = []
        var notes: [String] = []
        for file in event["files"] as? [[String: Any]] ?? [] {
            let name = file["name"] as? String ?? file["title"] as? String
            guard let url = file["url_private_download"] as? String ?? file["url_private"] as? String else {
                notes.append("[attachment '\(name ?? file["id"] as? String ?? "file")' not available: Slack sent no download URL]")
                continue
            }
            let mimeType = file["mimetype"] as? String
            attachments.append(
                InboundAttachment(
                    kind: kind(of: mimeType), fileName: name, mimeType: mimeType, declaredSize: (file["size"] as? NSNumber)?.intValue, url: url,
                    headers: ["Authorization": "Bearer \(token)"]))
        }
        let text = ([plainText(rawText, botUserID: botUserID)] + notes).filter { !$0.isEmpty }.joined(separator: "\n")
        guard !text.isEmpty || !attachments.isEmpty else { return .ignored("a message with nothing but the mention") }

        let externalID = "\(channel):\(ts)"
        if isDirect {
            return .message(
                InboundMessage(
                    externalID: externalID, peer: user, isGroup: false, sender: user, thread: threadTS, text: text,
                    replyTarget: SlackTarget(channel: channel, threadTS: threadTS).text, attachments: attachments))
        }
        let mentioned = type == "app_mention" || botUserID.map { rawText.contains("<@\($0)>") || rawText.contains("<@\($0)|") } == true
        // In a conversation the answer goes to the message's thread (a new one under a top-level message), and the
        // thread is the session: a follow-up in the thread continues it.
        let thread = threadTS ?? ts
        return .message(
            InboundMessage(
                externalID: externalID, peer: channel, isGroup: true, sender: user, thread: thread, text: text, mentioned: mentioned,
                replyTarget: SlackTarget(channel: channel, threadTS: thread).text, attachments: attachments))
    }

    /// The message text as the model should read it: the bot's own mention removed, Slack's escapes undone
    /// (other mentions and links stay in Slack's `<…>` form, which the model can repeat).
    static func plainText(_ text: String, botUserID: String?) -> String {
        var result = text
        if let botUserID {
            result = result.replacingOccurrences(of: "<@\(NSRegularExpression.escapedPattern(for: botUserID))(\\|[^>]*)?>", with: "", options: .regularExpression)
        }
        result = result.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return result.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func kind(of mimeType: String?) -> InboundAttachment.Kind {
        let type = mimeType ?? ""
        if type.hasPrefix("image/") { return .image }
        if type.hasPrefix("audio/") { return .audio }
        if type.hasPrefix("video/") { return .video }
        return .document
    }
}
