public import Foundation

/// A plugin that connects a chat platform: it receives messages and hands them to the gateway's
/// ``InboundSink``, and sends the gateway's replies.
///
/// The host calls ``start(context:)`` once per loaded generation, ``send(_:context:)`` concurrently for replies
/// (the outbox retries failed sends, so `send` must not retry on its own), and ``stop()`` when the generation is
/// replaced or the gateway stops. Platforms that push (webhooks) are served at `/channels/<name>/webhook`, which
/// the host hands to ``webhook(_:context:)``.
public protocol ChannelPlugin: Plugin {
    var capabilities: ChannelCapabilities { get }

    /// Starts receiving (long polling, a socket, ...). Return once started; keep receiving in your own tasks and
    /// deliver each message with `context.inbound`.
    func start(context: any PluginContext) async throws

    /// Stops receiving and finishes or abandons work in flight; the host waits for it.
    func stop() async

    /// Delivers one reply. Throw ``ChannelSendFailure`` to say whether a retry can help.
    func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt

    /// Answers one request to `/channels/<name>/webhook[/...]` (verification handshakes, pushed events). Verify the
    /// platform's signature first; deliver each message with `context.inbound` before answering, so the platform
    /// redelivers what the gateway could not take. The default answers 404: the plugin takes no webhooks.
    func webhook(_ request: ChannelWebhookRequest, context: any PluginContext) async -> ChannelWebhookResponse

    /// Shows the answer as it is being written: sends a first preview (`previous` nil) or edits the preview sent
    /// before. Only called when ``ChannelCapabilities/editInPlace`` is true; the final reply then arrives through
    /// ``send(_:context:)`` with ``OutboundMessage/previewID`` set, to replace the preview.
    func preview(_ text: String, target: String, previous: DeliveryReceipt?, context: any PluginContext) async throws -> DeliveryReceipt
}

extension ChannelPlugin {
    public func webhook(_ request: ChannelWebhookRequest, context: any PluginContext) async -> ChannelWebhookResponse {
        .json(["error": "this channel takes no webhooks"], status: 404)
    }

    public func preview(_ text: String, target: String, previous: DeliveryReceipt?, context: any PluginContext) async throws -> DeliveryReceipt {
        throw ChannelSendFailure("this channel cannot edit sent messages", retryable: false)
    }
}

/// One HTTP request to a channel's webhook, as the gateway received it.
public struct ChannelWebhookRequest: Sendable {
    public var method: String
    /// What follows `/channels/<name>/webhook` (empty, or `/...`).
    public var subpath: String
    /// The query parameters, decoded; a repeated name keeps its first value.
    public var query: [String: String]
    public var headers: [(name: String, value: String)]
    /// The body exactly as received (signatures are computed over these bytes).
    public var body: Data
    public var remoteAddress: String?

    public init(
        method: String, subpath: String = "", query: [String: String] = [:], headers: [(name: String, value: String)] = [], body: Data = Data(),
        remoteAddress: String? = nil
    ) {
        self.method = method
        self.subpath = subpath
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The first header of that name, compared without regard to case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// The answer to a ``ChannelWebhookRequest``.
public struct ChannelWebhookResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int = 200, headers: [(name: String, value: String)] = [("Content-Type", "application/json")], body: Data = Data("{}".utf8)) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON object of strings (`{"error": "..."}`, `{"challenge": "..."}`).
    public static func json(_ object: [String: String], status: Int = 200) -> ChannelWebhookResponse {
        ChannelWebhookResponse(status: status, body: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    /// A plain-text answer (verification challenges echo a value back).
    public static func text(_ text: String, status: Int = 200) -> ChannelWebhookResponse {
        ChannelWebhookResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Data(text.utf8))
    }
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
    /// WhatsApp's formatting (`*bold*`, `_italic_`, `~strike~`, code; no links or headings).
    case whatsApp = "whatsapp"
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
    /// Files that came with the message; the gateway downloads them (within its size limit) into the workspace.
    public var attachments: [InboundAttachment]

    public init(
        externalID: String?, account: String? = nil, peer: String, isGroup: Bool = false, sender: String, thread: String? = nil, text: String,
        mentioned: Bool = false, replyTarget: String, attachments: [InboundAttachment] = []
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
        self.attachments = attachments
    }
}

/// A file that came with an inbound message, and how to fetch it.
public struct InboundAttachment: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case image, audio, video, document
    }

    public var kind: Kind
    /// The file's name as the sender gave it, if any (never trusted as a path).
    public var fileName: String?
    public var mimeType: String?
    /// The size the platform declared, so a file over the limit is refused without downloading it.
    public var declaredSize: Int?
    /// Where the gateway downloads it, through the plugin's network permission.
    public var url: String
    /// Headers for the download (a bearer token); never logged.
    public var headers: [String: String]

    public init(kind: Kind, fileName: String? = nil, mimeType: String? = nil, declaredSize: Int? = nil, url: String, headers: [String: String] = [:]) {
        self.kind = kind
        self.fileName = fileName
        self.mimeType = mimeType
        self.declaredSize = declaredSize
        self.url = url
        self.headers = headers
    }
}

/// A file to send with a reply.
public struct OutboundAttachment: Sendable, Equatable {
    public var kind: InboundAttachment.Kind
    /// An absolute path the gateway checked lies inside the workspace.
    public var path: String
    public var fileName: String
    public var mimeType: String

    public init(kind: InboundAttachment.Kind, path: String, fileName: String, mimeType: String) {
        self.kind = kind
        self.path = path
        self.fileName = fileName
        self.mimeType = mimeType
    }
}

/// A reply for a channel to deliver.
public struct OutboundMessage: Sendable, Equatable {
    /// The ``InboundMessage/replyTarget`` of the message being answered.
    public var target: String
    public var text: String
    /// The outbox's idempotency key; the same key means the same reply (a retry after a crash).
    public var idempotencyKey: String
    /// Files to send with the text, where the platform allows (``ChannelCapabilities/media``).
    public var attachments: [OutboundAttachment]
    /// The preview this reply replaces (``ChannelPlugin/preview(_:target:previous:context:)``'s receipt), if any.
    public var previewID: String?

    public init(target: String, text: String, idempotencyKey: String, attachments: [OutboundAttachment] = [], previewID: String? = nil) {
        self.target = target
        self.text = text
        self.idempotencyKey = idempotencyKey
        self.attachments = attachments
        self.previewID = previewID
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
