/// A plugin that connects a chat platform: it receives messages and hands them to the gateway's
/// ``InboundSink``, and sends the gateway's replies.
///
/// The host calls ``start(context:)`` once per loaded generation, ``send(_:context:)`` concurrently for replies
/// (the outbox retries failed sends, so `send` must not retry on its own), and ``stop()`` when the generation is
/// replaced or the gateway stops.
public protocol ChannelPlugin: Plugin {
    var capabilities: ChannelCapabilities { get }

    /// Starts receiving (long polling, a socket, ...). Return once started; keep receiving in your own tasks and
    /// deliver each message with `context.inbound`.
    func start(context: any PluginContext) async throws

    /// Stops receiving and finishes or abandons work in flight; the host waits for it.
    func stop() async

    /// Delivers one reply. Throw ``ChannelSendFailure`` to say whether a retry can help.
    func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt
}

/// What a platform can do, so the gateway shapes replies to fit.
public struct ChannelCapabilities: Sendable, Equatable, Codable {
    /// The longest text one message may carry, in characters; longer replies are split.
    public var textLimit: Int
    public var markup: MarkupDialect
    /// Whether a sent message can be edited, for streamed previews.
    public var editInPlace: Bool
    public var media: Bool
    public var threads: Bool
    public var groups: Bool

    public init(textLimit: Int, markup: MarkupDialect = .plain, editInPlace: Bool = false, media: Bool = false, threads: Bool = false, groups: Bool = false) {
        self.textLimit = textLimit
        self.markup = markup
        self.editInPlace = editInPlace
        self.media = media
        self.threads = threads
        self.groups = groups
    }
}

/// The text formatting a platform renders.
public enum MarkupDialect: String, Sendable, Codable, CaseIterable {
    case plain
    case markdown
    /// Telegram's MarkdownV2 (reserved characters escaped).
    case markdownV2 = "markdown_v2"
    case html
    /// Slack's mrkdwn.
    case mrkdwn
}

/// A message a channel received, handed to the gateway.
public struct InboundMessage: Sendable, Equatable {
    /// The platform's id of the message, so a redelivery is recognised as a duplicate.
    public var externalID: String?
    /// The account of the bot on the platform, when one plugin serves several.
    public var account: String?
    /// The direct-message peer, or the group the message was posted in.
    public var peer: String
    public var isGroup: Bool
    public var sender: String
    public var thread: String?
    public var text: String
    /// In a group: whether the bot was mentioned or replied to.
    public var mentioned: Bool
    /// Where the reply goes, in the plugin's own terms (a chat id, a channel plus thread ts, ...).
    public var replyTarget: String

    public init(
        externalID: String?, account: String? = nil, peer: String, isGroup: Bool = false, sender: String, thread: String? = nil, text: String,
        mentioned: Bool = false, replyTarget: String
    ) {
        self.externalID = externalID
        self.account = account
        self.peer = peer
        self.isGroup = isGroup
        self.sender = sender
        self.thread = thread
        self.text = text
        self.mentioned = mentioned
        self.replyTarget = replyTarget
    }
}

/// A reply for a channel to deliver.
public struct OutboundMessage: Sendable, Equatable {
    /// The ``InboundMessage/replyTarget`` of the message being answered.
    public var target: String
    public var text: String
    /// The outbox's idempotency key; the same key means the same reply (a retry after a crash).
    public var idempotencyKey: String

    public init(target: String, text: String, idempotencyKey: String) {
        self.target = target
        self.text = text
        self.idempotencyKey = idempotencyKey
    }
}

/// What the platform said about a delivered reply.
public struct DeliveryReceipt: Sendable, Equatable {
    /// The platform's id of the sent message, for later edits.
    public var externalID: String?

    public init(externalID: String? = nil) {
        self.externalID = externalID
    }
}

/// A send that did not go through.
public struct ChannelSendFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// False when retrying cannot help (the chat is gone, the bot was blocked).
    public var retryable: Bool
    /// How long the platform asked to wait (a 429's retry-after), in seconds.
    public var retryAfterSeconds: Double?

    public init(_ message: String, retryable: Bool = true, retryAfterSeconds: Double? = nil) {
        self.message = message
        self.retryable = retryable
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { message }
}

/// Where a channel plugin delivers what it receives.
public protocol InboundSink: Sendable {
    /// Journals the message durably and returns once it is safe to acknowledge it to the platform. Throws when
    /// the gateway cannot take it (then do not acknowledge, so the platform redelivers).
    func receive(_ message: InboundMessage) async throws
}
