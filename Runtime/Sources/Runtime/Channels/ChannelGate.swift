import Foundation
import Logging
public import PluginAPI

/// The router step between every channel and the message pipeline: a redelivery of a journaled message is
/// recognised first (it takes no rate-limit tokens and downloads nothing), then rate limits, then the channel's
/// access policy (pairing, allowlist, group mention gating), then the message's files, then the durable journal
/// (which still settles two copies that arrive at once).
public final class ChannelGate: Sendable {
    public enum Outcome: Sendable, Equatable {
        case accepted(messageID: String, sessionID: String)
        /// A redelivery of a message already journaled.
        case duplicate(messageID: String)
        /// Not admitted by the access policy; `reply` is what to send back (nil: nothing, as for a group message
        /// without a mention).
        case turnedAway(reply: String?, reason: String)
        /// Over a rate limit; `reply` is the notice to send (nil after the first refusal of the window).
        case limited(reply: String?, scope: String, retryAfter: Double)
    }

    let pipeline: MessagePipeline
    let store: any GatewayStore
    let desk: PairingDesk
    let limiter: RateLimiter
    let workspace: URL
    let logger: Logger
    private let configuration: @Sendable () -> GatewayConfig

    init(pipeline: MessagePipeline, store: any GatewayStore, limiter: RateLimiter, workspace: URL, logger: Logger, configuration: @escaping @Sendable () -> GatewayConfig) {
        self.pipeline = pipeline
        self.store = store
        self.desk = PairingDesk(store: store)
        self.limiter = limiter
        self.workspace = workspace
        self.logger = logger
        self.configuration = configuration
    }

    /// Decides on one message and journals it when admitted. Throws only when the store cannot take it (the
    /// channel must then not acknowledge the message, so the platform delivers it again).
    public func receive(_ message: PluginAPI.InboundMessage, channel: String, http: (any PluginHTTPClient)?) async throws -> Outcome {
        if let external = message.externalID, let first = try await store.journalEntry(channel: channel, externalID: external) {
            logger.debug("inbound message is a redelivery", metadata: ["channel": "\(channel)", "external_id": "\(external)", "message_id": "\(first.id)"])
            return .duplicate(messageID: first.id)
        }
        let config = configuration()
        switch limiter.take(RateLimiter.messageLimits(channel: channel, sender: message.sender, config: config.limits)) {
        case .allowed:
            break
        case .limited(let scope, let retryAfter, let notify):
            logger.log(
                level: notify ? .warning : .debug, "inbound message over the rate limit; not read",
                metadata: ["channel": "\(channel)", "sender": "\(message.sender)", "scope": "\(scope)", "retry_after_s": "\(Int(retryAfter.rounded(.up)))"])
            return .limited(reply: notify ? RateLimiter.notice(scope: scope, retryAfter: retryAfter) : nil, scope: scope, retryAfter: retryAfter)
        }
        let verdict = try await desk.admit(
            channel: channel, access: config.access(channel), sender: message.sender, isGroup: message.isGroup, group: message.isGroup ? message.peer : nil,
            mentioned: message.mentioned)
        guard verdict.admitted else {
            logger.info("inbound message not admitted", metadata: ["channel": "\(channel)", "sender": "\(message.sender)", "reason": "\(verdict.reason)"])
            return .turnedAway(reply: verdict.reply, reason: verdict.reason)
        }
        var text = message.text
        if !message.attachments.isEmpty {
            let inbox = MediaInbox(workspace: workspace, settings: config.media)
            let key = MediaInbox.safeName(message.externalID ?? UUID().uuidString.lowercased())
            let saved: [MediaInbox.Saved]
            if let http {
                saved = await inbox.fetch(message.attachments, channel: channel, messageKey: key, http: http)
            } else {
                saved = message.attachments.map { .init(attachment: $0, path: nil, bytes: 0, problem: "could not be downloaded: this channel has no network access") }
            }
            text = [text, MediaInbox.describe(saved)].filter { !$0.isEmpty }.joined(separator: "\n")
        }
        let origin = MessageOrigin(
            channel: channel, account: message.account ?? "", peer: message.isGroup ? message.sender : message.peer, group: message.isGroup ? message.peer : nil,
            thread: message.thread)
        switch try await pipeline.submit(InboundMessage(origin: origin, sender: message.sender, text: text, externalID: message.externalID, replyTarget: message.replyTarget)) {
        case .accepted(let messageID, let sessionID): return .accepted(messageID: messageID, sessionID: sessionID)
        case .duplicate(let messageID, _): return .duplicate(messageID: messageID)
        }
    }
}
