import Foundation
import Logging
import PluginAPI
import Synchronization

/// The running channel plugins: starts and stops them, gives each its inbound sink and its outbox sender, and
/// hands `/channels/<name>/webhook` requests to them.
public final class ChannelHost: Sendable {
    private struct Running {
        var plugin: any ChannelPlugin
        var context: any PluginContext
        var sender: PluginChannelSender
    }

    let gate: ChannelGate
    let pipeline: MessagePipeline
    let workspace: URL
    let logger: Logger
    private let running = Mutex<[String: Running]>([:])

    init(gate: ChannelGate, pipeline: MessagePipeline, workspace: URL, logger: Logger) {
        self.gate = gate
        self.pipeline = pipeline
        self.workspace = workspace
        self.logger = logger
    }

    /// The sink a plugin's context hands it; messages are refused unless `channel` runs as a channel here.
    func sink(for channel: String, http: any PluginHTTPClient) -> any InboundSink {
        PluginInbound(channel: channel, host: self, http: http)
    }

    func isRunning(_ channel: String) -> Bool { running.withLock { $0[channel] != nil } }

    public var channels: [String] { running.withLock { $0.keys.sorted() } }

    /// Starts `plugin` as channel `name`, after stopping the generation that ran under that name (two pollers of
    /// one bot would steal each other's updates).
    func attach(_ name: String, plugin: any ChannelPlugin, context: any PluginContext) async throws {
        await detach(name)
        let sender = PluginChannelSender(channel: name, plugin: plugin, context: context, workspace: workspace, logger: logger)
        running.withLock { $0[name] = Running(plugin: plugin, context: context, sender: sender) }
        pipeline.register(sender)
        do {
            try await plugin.start(context: context)
        } catch {
            running.withLock { $0[name] = nil }
            pipeline.unregister(channel: name)
            throw error
        }
        logger.notice("channel started", metadata: ["channel": "\(name)", "plugin": "\(plugin.metadata.name)", "version": "\(plugin.metadata.version)"])
        // Replies that waited while the channel was down go out now.
        Task { await pipeline.outbox.deliverDue() }
    }

    /// Stops channel `name`; its replies wait in the outbox until it runs again.
    func detach(_ name: String) async {
        guard let old = running.withLock({ $0.removeValue(forKey: name) }) else { return }
        pipeline.unregister(channel: name)
        await old.plugin.stop()
        logger.notice("channel stopped", metadata: ["channel": "\(name)"])
    }

    func stopAll() async {
        for name in channels { await detach(name) }
    }

    /// Hands a webhook request to channel `name`; nil when no such channel runs.
    func webhook(_ name: String, request: ChannelWebhookRequest) async -> ChannelWebhookResponse? {
        guard let channel = running.withLock({ $0[name] }) else { return nil }
        return await channel.plugin.webhook(request, context: channel.context)
    }

    /// The outcome of one inbound message from a plugin: journaled, or answered by the gateway with a notice.
    func receive(_ message: PluginAPI.InboundMessage, channel: String, http: any PluginHTTPClient) async throws {
        guard isRunning(channel) else { throw PluginAccessDenied(permission: "inbound", subject: "\(channel) is not running as a channel") }
        switch try await gate.receive(message, channel: channel, http: http) {
        case .accepted, .duplicate, .turnedAway(reply: nil, _), .limited(reply: nil, _, _):
            return
        case .turnedAway(let reply?, _), .limited(let reply?, _, _):
            try await pipeline.notify(channel: channel, target: message.replyTarget, text: reply)
        }
    }
}

/// A channel plugin's ``InboundSink``.
struct PluginInbound: InboundSink {
    let channel: String
    let host: ChannelHost
    let http: any PluginHTTPClient

    func receive(_ message: PluginAPI.InboundMessage) async throws {
        try await host.receive(message, channel: channel, http: http)
    }
}

/// Delivers outbox entries through a channel plugin, with its files, replacing a streamed preview when there was
/// one; maps the plugin's failures onto the outbox's retry rules.
final class PluginChannelSender: StreamingChannel {
    let channel: String
    let plugin: any ChannelPlugin
    let context: any PluginContext
    let workspace: URL
    let logger: Logger
    let previews: PreviewBoard?

    init(channel: String, plugin: any ChannelPlugin, context: any PluginContext, workspace: URL, logger: Logger) {
        self.channel = channel
        self.plugin = plugin
        self.context = context
        self.workspace = workspace
        self.logger = logger
        previews = plugin.capabilities.editInPlace ? PreviewBoard(plugin: plugin, context: context) : nil
    }

    func deliver(_ entry: OutboxEntry) async throws {
        let previewID = await previews?.finish(entry.messageID)
        let media = ReplyMedia.extract(entry.body, workspace: workspace)
        var text = media.text
        var attachments = media.attachments
        if !attachments.isEmpty, !plugin.capabilities.media {
            text += "\n(" + attachments.map(\.fileName).joined(separator: ", ") + " not sent: this channel cannot send files)"
            attachments = []
        }
        let message = OutboundMessage(target: entry.target, text: text, idempotencyKey: entry.id, attachments: attachments, previewID: previewID)
        do {
            _ = try await plugin.send(message, context: context)
            previews?.forget(entry.messageID)
        } catch let failure as ChannelSendFailure {
            if !failure.retryable {
                previews?.forget(entry.messageID)
                throw PermanentDeliveryError(failure.message)
            }
            if let wait = failure.retryAfterSeconds { throw DeliveryDeferred(failure.message, retryAfter: wait) }
            throw failure
        }
    }

    func stream(_ event: Agent.Event, for entry: JournalEntry) {
        previews?.update(entry.id, target: entry.replyTarget, event: event)
    }
}

/// Streamed previews of answers being written, for channels that edit sent messages: the text so far is sent once,
/// then edited at most once a second; the final reply replaces it.
final class PreviewBoard: Sendable {
    private struct Preview {
        var target: String
        var text = ""
        var attempt = 0
        var receipt: DeliveryReceipt?
        var sending: Task<Void, Never>?
        var lastSent: ContinuousClock.Instant?
        var finished = false
    }

    static let interval: Duration = .seconds(1)
    /// Below this many characters a first preview is not worth a message.
    static let minimumText = 20

    let plugin: any ChannelPlugin
    let context: any PluginContext
    private let previews = Mutex<[String: Preview]>([:])

    init(plugin: any ChannelPlugin, context: any PluginContext) {
        self.plugin = plugin
        self.context = context
    }

    func update(_ id: String, target: String, event: Agent.Event) {
        previews.withLock { all in
            var preview = all[id] ?? Preview(target: target)
            switch event {
            case .text(let delta, let attempt):
                if attempt != preview.attempt {
                    preview.attempt = attempt
                    preview.text = ""
                }
                preview.text += delta
            case .retract:
                preview.text = ""
            }
            all[id] = preview
            guard !preview.finished, preview.sending == nil else { return }
            if let last = preview.lastSent, ContinuousClock.now - last < Self.interval { return }
            // The byte count bounds the characters from above: most short answers stop here, before the scan.
            guard preview.text.utf8.count >= Self.minimumText, ReplyMedia.previewText(preview.text).count >= Self.minimumText else { return }
            all[id]?.sending = Task { await self.send(id) }
        }
    }

    private func send(_ id: String) async {
        guard let (text, target, previous) = previews.withLock({ all in all[id].map { ($0.text, $0.target, $0.receipt) } }) else { return }
        let receipt = try? await plugin.preview(ReplyMedia.previewText(text), target: target, previous: previous, context: context)
        previews.withLock { all in
            all[id]?.sending = nil
            all[id]?.lastSent = .now
            if let receipt { all[id]?.receipt = receipt }
        }
    }

    /// Ends the preview of `id` (waiting for an edit in flight) and returns the preview's message id, if one was sent.
    func finish(_ id: String) async -> String? {
        let sending = previews.withLock { all -> Task<Void, Never>? in
            all[id]?.finished = true
            return all[id]?.sending
        }
        await sending?.value
        return previews.withLock { $0[id]?.receipt?.externalID }
    }

    /// Forgets the preview of `id` once the reply that replaces it is delivered (kept until then: a retry must
    /// replace it too).
    func forget(_ id: String) {
        _ = previews.withLock { $0.removeValue(forKey: id) }
    }
}
