import Foundation
public import PluginAPI
import Synchronization

/// The Telegram Bot API as a channel: long polling by default, or a webhook with a secret token; text, replies,
/// groups with mention gating, photos and documents both ways, MarkdownV2 with a plain-text fallback, edit-in-place
/// previews (a draft left behind by a crash is deleted at the next start), chunks of 4096 characters, and 429s handed
/// back to the outbox with their `retry_after`. Updates whose ids are not exact 64-bit integers are refused and logged.
///
/// tools.json entry: `config` {"base_url", "mode": "polling" | "webhook", "webhook_url", "poll_timeout"}, secrets
/// `telegram_bot_token` (and `telegram_webhook_secret` in webhook mode), network `api.telegram.org:443`.
public final class TelegramPlugin: ChannelPlugin {
    public let metadata = PluginMetadata(name: "telegram", version: "1.0.0", kind: .channel)
    public let capabilities = ChannelCapabilities(textLimit: 4096, markup: .markdownV2, editInPlace: true, media: true, threads: true, groups: true)

    struct Settings: Decodable {
        var baseURL = "https://api.telegram.org"
        var mode = "polling"
        var webhookURL = ""
        var pollTimeout = 25

        enum CodingKeys: String, CodingKey {
            case baseURL = "base_url"
            case mode
            case webhookURL = "webhook_url"
            case pollTimeout = "poll_timeout"
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            baseURL = try container.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            mode = try container.decodeIfPresent(String.self, forKey: .mode) ?? mode
            webhookURL = try container.decodeIfPresent(String.self, forKey: .webhookURL) ?? webhookURL
            pollTimeout = try container.decodeIfPresent(Int.self, forKey: .pollTimeout) ?? pollTimeout
        }
    }

    struct Bot {
        var id: Int64
        var username: String
    }

    private struct State {
        var bot: Bot?
        var settings = Settings()
        var poller: Task<Void, Never>?
        var ledger: TelegramPreviewLedger?
    }

    private let state = Mutex(State())

    public init() {}

    // MARK: Receiving

    public func start(context: any PluginContext) async throws {
        let settings: Settings
        do {
            settings = try JSONDecoder().decode(Settings.self, from: Data(context.configuration.utf8))
        } catch {
            throw ChannelSetupError("the telegram entry's config is invalid: \(error)")
        }
        guard ["polling", "webhook"].contains(settings.mode) else { throw ChannelSetupError("config.mode must be polling or webhook") }
        let api = TelegramAPI(baseURL: settings.baseURL, token: try context.secret("telegram_bot_token"), http: context.http)
        let me = try await api.call("getMe", [:]) as? [String: Any] ?? [:]
        guard let id = TelegramInteger.exact(me["id"]) else { throw ChannelSetupError("getMe did not say who the bot is") }
        let bot = Bot(id: id, username: me["username"] as? String ?? "")
        let ledger = TelegramPreviewLedger(store: context.store)
        state.withLock {
            $0.bot = bot
            $0.settings = settings
            $0.ledger = ledger
        }
        await deleteStalePreviews(ledger, api: api, context: context)
        if settings.mode == "webhook" {
            guard !settings.webhookURL.isEmpty else { throw ChannelSetupError("webhook mode needs config.webhook_url") }
            _ = try await api.call(
                "setWebhook",
                ["url": settings.webhookURL, "secret_token": try context.secret("telegram_webhook_secret"), "allowed_updates": ["message"]])
            context.log(.info, "telegram webhook set", metadata: ["bot": bot.username])
            return
        }
        // getUpdates is refused (409) while a webhook is set.
        _ = try await api.call("deleteWebhook", ["drop_pending_updates": false])
        let poller = Task { await self.poll(api: api, bot: bot, settings: settings, context: context) }
        state.withLock { $0.poller = poller }
        context.log(.info, "telegram polling started", metadata: ["bot": bot.username])
    }

    public func stop() async {
        let poller = state.withLock { state in
            defer { state.poller = nil }
            return state.poller
        }
        poller?.cancel()
        await poller?.value
    }

    /// Long polling: an update's offset is committed only after the gateway journaled it, so a crash or a refusal
    /// means Telegram delivers it again (and the journal recognises a duplicate).
    private func poll(api: TelegramAPI, bot: Bot, settings: Settings, context: any PluginContext) async {
        var offset = Int((try? await context.store.get("offset")) ?? nil ?? "0") ?? 0
        var backoff = 1.0
        while !Task.isCancelled {
            do {
                let result = try await api.call(
                    "getUpdates", ["offset": offset, "timeout": settings.pollTimeout, "allowed_updates": ["message"]],
                    timeout: Double(settings.pollTimeout) + 10)
                backoff = 1
                var unconfirmable = false
                for object in result as? [[String: Any]] ?? [] {
                    let update: TelegramUpdate
                    do {
                        update = try parse(object, bot: bot, context: context)
                    } catch {
                        // Confirmed all the same: Telegram would deliver it again at every poll.
                        guard let id = error.updateID else {
                            unconfirmable = true
                            continue
                        }
                        offset = max(offset, Self.offset(after: id))
                        try await context.store.set("offset", String(offset))
                        continue
                    }
                    if let message = update.message, let inbound = await inbound(message, api: api) {
                        try await context.inbound.receive(inbound)
                    }
                    offset = Self.offset(after: update.updateID)
                    try await context.store.set("offset", String(offset))
                }
                // An update without a readable id comes back until a later one confirms it: do not poll it in a tight loop.
                if unconfirmable { try await Task.sleep(for: .seconds(5)) }
            } catch {
                if Task.isCancelled { return }
                context.log(.warning, "telegram polling failed; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(Int(backoff))"])
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 30)
            }
        }
    }

    /// The `offset` that confirms update `id` and every earlier one.
    static func offset(after id: Int) -> Int { id == .max ? id : id + 1 }

    /// An update as the gateway takes it; a refused one (an id that is not a 64-bit integer) is logged here for both
    /// ways in (polling confirms it, the webhook answers 400).
    private func parse(_ object: [String: Any], bot: Bot, context: any PluginContext) throws(TelegramUpdate.Refusal) -> TelegramUpdate {
        do {
            return try TelegramUpdate.parse(object, botID: bot.id, botUsername: bot.username)
        } catch {
            context.log(.warning, "telegram update refused", metadata: ["update_id": error.updateID.map(String.init) ?? "?", "reason": error.reason])
            throw error
        }
    }

    public func webhook(_ request: ChannelWebhookRequest, context: any PluginContext) async -> ChannelWebhookResponse {
        guard request.method == "POST" else { return .json(["error": "POST only"], status: 405) }
        guard let secret = try? context.secret("telegram_webhook_secret"), let given = request.header("X-Telegram-Bot-Api-Secret-Token"),
            ConstantTime.equal(given, secret)
        else {
            return .json(["error": "missing or wrong X-Telegram-Bot-Api-Secret-Token"], status: 401)
        }
        let (bot, settings) = state.withLock { ($0.bot, $0.settings) }
        guard let bot, let token = try? context.secret("telegram_bot_token") else {
            return .json(["error": "the channel is not started"], status: 503)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] else {
            return .json(["error": "not a Telegram update"], status: 400)
        }
        let update: TelegramUpdate
        do {
            update = try parse(object, bot: bot, context: context)
        } catch {
            return .json(["error": error.description], status: 400)
        }
        if let message = update.message, let inbound = await inbound(message, api: TelegramAPI(baseURL: settings.baseURL, token: token, http: context.http)) {
            do {
                try await context.inbound.receive(inbound)
            } catch {
                // Telegram delivers the update again after a failed answer.
                return .json(["error": "not stored; send it again"], status: 500)
            }
        }
        return ChannelWebhookResponse()
    }

    /// The gateway's view of a message; nil for what is not answered (bots, service messages without text or files).
    private func inbound(_ message: TelegramUpdate.Message, api: TelegramAPI) async -> InboundMessage? {
        guard !message.senderIsBot, !message.text.isEmpty || !message.files.isEmpty else { return nil }
        let isGroup = message.chatType != "private"
        var attachments: [InboundAttachment] = []
        for file in message.files {
            var url = ""
            var size = file.size
            if let info = try? await api.call("getFile", ["file_id": file.fileID]) as? [String: Any], let path = info["file_path"] as? String {
                url = api.fileURL(path)
                size = (info["file_size"] as? NSNumber)?.intValue ?? size
            }
            attachments.append(InboundAttachment(kind: file.kind, fileName: file.fileName, mimeType: file.mimeType, declaredSize: size, url: url))
        }
        return InboundMessage(
            externalID: "\(message.chatID):\(message.messageID)", peer: String(message.chatID), isGroup: isGroup, sender: String(message.senderID),
            thread: message.threadID.map(String.init), text: message.text, mentioned: message.mentionsBot || message.repliesToBot,
            replyTarget: TelegramTarget(chatID: message.chatID, replyTo: isGroup ? message.messageID : nil, threadID: message.threadID).encoded,
            attachments: attachments)
    }

    // MARK: Sending

    public func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt {
        guard let target = TelegramTarget(message.target) else { throw ChannelSendFailure("'\(message.target)' is not a Telegram target", retryable: false) }
        let api = try api(context)
        let parts = message.text.isEmpty ? [] : ChannelText.chunks(message.text, limit: 4096, as: .markdownV2)
        // Parts already delivered by an earlier attempt of this reply are not sent again.
        let progress = DeliveryProgress(store: context.store, key: message.idempotencyKey, steps: parts.count + message.attachments.count)
        var done = await progress.load()
        var receipt = DeliveryReceipt(externalID: message.previewID)
        let preview = message.previewID.flatMap(Int.init).map { TelegramPreviewLedger.Entry(chatID: target.chatID, messageID: $0) }
        if let preview, parts.isEmpty, done == 0 {
            // Only files: nothing replaces the draft, so it goes.
            try await delete(api, preview)
        }
        for (index, part) in parts.enumerated() where index >= done {
            if index == 0, let preview {
                try await edit(api, target: target, messageID: preview.messageID, text: part, markup: true)
                // Before the progress is saved: a crash in between deletes the edited message at the next start, and the
                // part is sent again because the progress says it was not.
                await ledger?.closed(preview)
            } else {
                receipt = DeliveryReceipt(externalID: try await sendText(api, target: target, text: part, quote: index == 0))
            }
            done += 1
            await progress.save(done)
        }
        for (offset, attachment) in message.attachments.enumerated() where parts.count + offset >= done {
            let data = try attachment.contents(context)
            let photo = attachment.kind == .image && data.count <= 10 << 20
            var fields: [(String, String)] = [("chat_id", String(target.chatID))]
            if let thread = target.threadID { fields.append(("message_thread_id", String(thread))) }
            do {
                _ = try await api.upload(photo ? "sendPhoto" : "sendDocument", fields: fields, file: (photo ? "photo" : "document", attachment.fileName, attachment.mimeType, data))
            } catch let error as TelegramAPI.Failure {
                throw error.sendFailure
            }
            done += 1
            await progress.save(done)
        }
        await progress.clear()
        return receipt
    }

    public func preview(_ text: String, target: String, previous: DeliveryReceipt?, context: any PluginContext) async throws -> DeliveryReceipt {
        guard let target = TelegramTarget(target) else { throw ChannelSendFailure("not a Telegram target", retryable: false) }
        let api = try api(context)
        // A preview is plain text: half-written Markdown would not parse.
        let shown = String(String.UnicodeScalarView(text.unicodeScalars.prefix(4000))) + " …"
        if let previous, let id = previous.externalID.flatMap(Int.init) {
            try await edit(api, target: target, messageID: id, text: shown, markup: false)
            return previous
        }
        let sent = try await api.call("sendMessage", messageParameters(target, text: shown, quote: true))
        let id = TelegramInteger.int((sent as? [String: Any])?["message_id"])
        if let id { await ledger?.opened(TelegramPreviewLedger.Entry(chatID: target.chatID, messageID: id)) }
        return DeliveryReceipt(externalID: id.map(String.init))
    }

    private var ledger: TelegramPreviewLedger? { state.withLock { $0.ledger } }

    /// Deletes the drafts an earlier process left in chats (see ``TelegramPreviewLedger``). One that cannot be
    /// deleted for now (Telegram unreachable, 429) is kept for the next start; one Telegram refuses (already gone,
    /// older than 48 hours) is forgotten.
    private func deleteStalePreviews(_ ledger: TelegramPreviewLedger, api: TelegramAPI, context: any PluginContext) async {
        for preview in await ledger.takeStale() {
            do {
                _ = try await api.call("deleteMessage", ["chat_id": preview.chatID, "message_id": preview.messageID])
                context.log(
                    .info, "telegram: deleted a draft answer left by an interrupted turn",
                    metadata: ["chat": "\(preview.chatID)", "message": "\(preview.messageID)"])
            } catch let failure as TelegramAPI.Failure where !failure.sendFailure.retryable {
                context.log(
                    .info, "telegram: a draft answer left by an interrupted turn cannot be deleted",
                    metadata: ["chat": "\(preview.chatID)", "error": failure.description])
            } catch {
                context.log(
                    .warning, "telegram: a draft answer left by an interrupted turn is deleted at the next start", metadata: ["error": "\(error)"])
                await ledger.opened(preview)
            }
        }
    }

    /// Deletes a preview that nothing replaces; one already gone counts as deleted.
    private func delete(_ api: TelegramAPI, _ preview: TelegramPreviewLedger.Entry) async throws {
        do {
            _ = try await api.call("deleteMessage", ["chat_id": preview.chatID, "message_id": preview.messageID])
        } catch let failure as TelegramAPI.Failure {
            guard failure.description.contains("message to delete not found") else { throw failure.sendFailure }
        }
        await ledger?.closed(preview)
    }

    private func api(_ context: any PluginContext) throws -> TelegramAPI {
        TelegramAPI(baseURL: state.withLock { $0.settings.baseURL }, token: try context.secret("telegram_bot_token"), http: context.http)
    }

    private func messageParameters(_ target: TelegramTarget, text: String, quote: Bool) -> [String: Any] {
        var parameters: [String: Any] = ["chat_id": target.chatID, "text": text]
        if let thread = target.threadID { parameters["message_thread_id"] = thread }
        if quote, let reply = target.replyTo { parameters["reply_parameters"] = ["message_id": reply, "allow_sending_without_reply": true] }
        return parameters
    }

    /// Sends one part as MarkdownV2, or as plain text when Telegram rejects the markup; returns the message id.
    private func sendText(_ api: TelegramAPI, target: TelegramTarget, text: String, quote: Bool) async throws -> String? {
        var parameters = messageParameters(target, text: ChannelText.render(text, as: .markdownV2), quote: quote)
        parameters["parse_mode"] = "MarkdownV2"
        let result: Any
        do {
            result = try await api.call("sendMessage", parameters)
        } catch let failure as TelegramAPI.Failure where failure.isMarkupRejection {
            do {
                result = try await api.call("sendMessage", messageParameters(target, text: text, quote: quote))
            } catch let failure as TelegramAPI.Failure {
                throw failure.sendFailure
            }
        } catch let failure as TelegramAPI.Failure {
            throw failure.sendFailure
        }
        return TelegramInteger.int((result as? [String: Any])?["message_id"]).map(String.init)
    }

    private func edit(_ api: TelegramAPI, target: TelegramTarget, messageID: Int, text: String, markup: Bool) async throws {
        var parameters: [String: Any] = ["chat_id": target.chatID, "message_id": messageID, "text": markup ? ChannelText.render(text, as: .markdownV2) : text]
        if markup { parameters["parse_mode"] = "MarkdownV2" }
        do {
            _ = try await api.call("editMessageText", parameters)
        } catch let failure as TelegramAPI.Failure {
            if failure.description.contains("message is not modified") { return }
            if markup && failure.isMarkupRejection { return try await edit(api, target: target, messageID: messageID, text: text, markup: false) }
            if failure.description.contains("message to edit not found") {
                _ = try await sendText(api, target: target, text: text, quote: true)
                return
            }
            throw failure.sendFailure
        }
    }
}

/// Bot API calls: `POST <base>/bot<token>/<method>` with JSON, answers `{"ok": true, "result": ...}` or
/// `{"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": S}}`.
struct TelegramAPI {
    let baseURL: String
    let token: String
    let http: any PluginHTTPClient

    struct Failure: Error, CustomStringConvertible {
        var code: Int
        var description: String
        var retryAfter: Double?

        var isMarkupRejection: Bool { code == 400 && (description.contains("can't parse entities") || description.contains("can't find end")) }

        /// What the outbox does with it: wait as told on 429, never retry what cannot change (blocked bot, no chat).
        var sendFailure: ChannelSendFailure {
            if code == 429 { return ChannelSendFailure("telegram: \(description)", retryable: true, retryAfterSeconds: retryAfter ?? 5) }
            if code == 403 || (code == 400 && !description.contains("Too Many")) {
                return ChannelSendFailure("telegram: \(description)", retryable: false)
            }
            return ChannelSendFailure("telegram: \(description)", retryable: true)
        }
    }

    func fileURL(_ path: String) -> String { "\(baseURL)/file/bot\(token)/\(path)" }

    func call(_ method: String, _ parameters: [String: Any], timeout: Double = 30) async throws -> Any {
        let body = try JSONSerialization.data(withJSONObject: parameters)
        let response = try await http.send(
            PluginHTTPRequest(method: "POST", url: "\(baseURL)/bot\(token)/\(method)", headers: [("Content-Type", "application/json")], body: body, timeoutSeconds: timeout),
            delivering: "Telegram \(method)")
        return try Self.result(response, method: method)
    }

    func upload(_ method: String, fields: [(String, String)], file: (field: String, name: String, type: String, data: Data)) async throws -> Any {
        let form = MultipartForm(fields: fields, file: (name: file.field, fileName: file.name, mimeType: file.type, data: file.data))
        let response = try await http.send(
            PluginHTTPRequest(method: "POST", url: "\(baseURL)/bot\(token)/\(method)", headers: [("Content-Type", form.contentType)], body: form.body, timeoutSeconds: 120),
            delivering: "Telegram \(method)")
        return try Self.result(response, method: method)
    }

    static func result(_ response: PluginHTTPResponse, method: String) throws -> Any {
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any]
        if let object, object["ok"] as? Bool == true { return object["result"] ?? NSNull() }
        let code = TelegramInteger.int(object?["error_code"]) ?? response.status
        let description = object?["description"] as? String ?? "HTTP \(response.status) from \(method)"
        let retryAfter = ((object?["parameters"] as? [String: Any])?["retry_after"] as? NSNumber)?.doubleValue ?? response.header("Retry-After").flatMap(Double.init)
        throw Failure(code: code, description: description, retryAfter: retryAfter)
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(TelegramPlugin()) }
