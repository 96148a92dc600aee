import Foundation
import PluginAPI

/// What one frame on a Socket Mode connection asks of the plugin: a pure decision over the frame's text.
///
/// Slack sends `hello` when a connection is ready, `disconnect` before it closes one (`warning`, `refresh_requested`;
/// `link_disabled` when Socket Mode was turned off for the app), and everything else in envelopes the app must
/// acknowledge with their `envelope_id` within 3 seconds. An `events_api` envelope carries the same payload the Events
/// API POSTs, so it goes through the same ``SlackEventDecision``.
enum SlackSocketFrame: Equatable {
    case hello
    case disconnect(reason: String)
    /// An envelope to acknowledge, with what its payload asks (other envelope types, such as `slash_commands` or
    /// `interactive`, are ignored).
    case envelope(id: String, decision: SlackEventDecision)
    case invalid(String)

    static func read(_ text: String, botUserID: String?, token: String) -> SlackSocketFrame {
        guard let frame = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return .invalid("a frame that is not a JSON object") }
        let type = frame["type"] as? String ?? ""
        switch type {
        case "hello":
            return .hello
        case "disconnect":
            return .disconnect(reason: frame["reason"] as? String ?? "unknown")
        default:
            break
        }
        guard let id = frame["envelope_id"] as? String, !id.isEmpty else { return .invalid("a frame of type '\(type)' without an envelope_id") }
        guard type == "events_api" else { return .envelope(id: id, decision: .ignored("envelope type \(type)")) }
        guard let payload = frame["payload"] as? [String: Any] else { return .envelope(id: id, decision: .invalid("an events_api envelope without a payload")) }
        return .envelope(id: id, decision: SlackEventDecision.decide(envelope: payload, botUserID: botUserID, token: token))
    }

    /// The acknowledgement of an envelope.
    static func acknowledgement(_ envelopeID: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["envelope_id": envelopeID])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
