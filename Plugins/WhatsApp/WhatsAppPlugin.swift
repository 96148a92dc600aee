import Foundation
import PluginAPI

/// `whatsapp`: a WhatsApp Business number over Meta's Cloud API.
///
/// Meta calls `/channels/whatsapp/webhook`: a GET to verify the subscription (`hub.verify_token`), then POSTs
/// signed with the app secret (`X-Hub-Signature-256`). Replies go to `<phone_number_id>/messages`; files are
/// uploaded to `<phone_number_id>/media` first. Only direct chats exist (the Cloud API has no groups), and a
/// business may write freely only within 24 hours of the customer's last message (after that, error 131047).
///
/// The tools.json entry:
///
/// ```json
/// {"name": "whatsapp", "file": "libWhatsApp.so",
///  "config": {"base_url": "https://graph.facebook.com/v21.0", "phone_number_id": "106540352242922"},
///  "permissions": {"network": ["graph.facebook.com:443", "lookaside.fbsbx.com:443"],
///                  "secrets": ["whatsapp_access_token", "whatsapp_app_secret", "whatsapp_verify_token"],
///                  "files": {"read": ["media"]}}}
/// ```
///
/// `lookaside.fbsbx.com` serves the files customers send; `files.read` must cover the folders whose files replies
/// attach (`MEDIA:` lines), because an in-process plugin reads files only through the context.
struct WhatsAppPlugin: ChannelPlugin {
    let metadata = PluginMetadata(name: "whatsapp", version: "1.0.0", kind: .channel)
    let capabilities = ChannelCapabilities(textLimit: Self.textLimit, markup: .whatsApp, editInPlace: false, media: true, threads: false, groups: false)

    static let textLimit = 4096
    /// The longest caption a media message takes.
    static let captionLimit = 1024

    func start(context: any PluginContext) async throws {
        _ = try WhatsAppSettings.parse(context.configuration)
        // Read now so a missing secret shows at load, not at the first message.
        for name in ["whatsapp_access_token", "whatsapp_app_secret", "whatsapp_verify_token"] { _ = try context.secret(name) }
    }

    func stop() async {}

    // MARK: Receiving

    func webhook(_ request: ChannelWebhookRequest, context: any PluginContext) async -> ChannelWebhookResponse {
        let settings: WhatsAppSettings
        let secrets: (token: String, appSecret: String, verifyToken: String)
        do {
            settings = try WhatsAppSettings.parse(context.configuration)
            secrets = (try context.secret("whatsapp_access_token"), try context.secret("whatsapp_app_secret"), try context.secret("whatsapp_verify_token"))
        } catch {
            context.log(.error, "a WhatsApp webhook could not be checked", metadata: ["error": "\(error)"])
            return .text("the channel is not configured", status: 500)
        }
        switch request.method {
        case "GET":
            // The subscription handshake: echo the challenge only to the one who knows the verify token.
            guard request.query["hub.mode"] == "subscribe", let given = request.query["hub.verify_token"], ConstantTime.equal(given, secrets.verifyToken),
                let challenge = request.query["hub.challenge"]
            else {
                context.log(.warning, "WhatsApp webhook verification refused", metadata: ["ip": request.remoteAddress ?? "?"])
                return .text("verification failed", status: 403)
            }
            return .text(challenge)
        case "POST":
            break
        default:
            return .text("method not allowed", status: 405)
        }
        guard let header = request.header("X-Hub-Signature-256"), header.hasPrefix("sha256="),
            context.verifyHMACSHA256(hex: String(header.dropFirst(7)), key: Data(secrets.appSecret.utf8), message: request.body)
        else {
            context.log(.warning, "WhatsApp webhook refused: signature missing or wrong", metadata: ["ip": request.remoteAddress ?? "?"])
            return .text("invalid signature", status: 401)
        }
        guard let payload = WhatsAppWebhookPayload.parse(request.body, phoneNumberID: settings.phoneNumberID) else {
            context.log(.warning, "WhatsApp webhook not understood")
            return .text("not a WhatsApp Business Account notification", status: 400)
        }
        for reason in payload.skipped { context.log(.debug, "WhatsApp notification part skipped", metadata: ["reason": reason]) }
        let api = WhatsAppGraphAPI(settings: settings, token: secrets.token, http: context.http)
        for message in payload.messages {
            do {
                try await context.inbound.receive(await inbound(message, api: api, context: context))
            } catch {
                // Meta redelivers a notification that is not answered 200; messages already taken are recognised by wamid.
                context.log(.error, "a WhatsApp message could not be taken; Meta will redeliver it", metadata: ["error": "\(error)"])
                return .text("not accepted, retry later", status: 500)
            }
        }
        return ChannelWebhookResponse()
    }

    /// The message for the gateway, its file looked up (the gateway downloads it with the same token).
    private func inbound(_ message: WhatsAppWebhookPayload.Message, api: WhatsAppGraphAPI, context: any PluginContext) async -> InboundMessage {
        var text = message.text
        var attachments: [InboundAttachment] = []
        if let media = message.media {
            do {
                let info = try await api.mediaInfo(media.id)
                attachments.append(
                    InboundAttachment(
                        kind: media.kind, fileName: media.fileName, mimeType: info.mimeType ?? media.mimeType, declaredSize: info.size, url: info.url,
                        headers: ["Authorization": "Bearer \(api.token)"]))
            } catch {
                context.log(.warning, "a WhatsApp media lookup failed", metadata: ["media_id": media.id, "error": "\(error)"])
                text = [text, "[attachment \(media.kind.rawValue) could not be fetched: \(error)]"].filter { !$0.isEmpty }.joined(separator: "\n")
            }
        }
        return InboundMessage(externalID: message.id, peer: message.from, isGroup: false, sender: message.from, text: text, replyTarget: message.from, attachments: attachments)
    }

    // MARK: Sending

    func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt {
        let api: WhatsAppGraphAPI
        do {
            api = WhatsAppGraphAPI(settings: try WhatsAppSettings.parse(context.configuration), token: try context.secret("whatsapp_access_token"), http: context.http)
        } catch {
            throw ChannelSendFailure("\(error)", retryable: false)
        }
        let to = message.target
        let text = ChannelText.render(message.text, as: .whatsApp)
        // A short text rides along as the caption of the first file, where the file type takes one.
        let captioned = message.attachments.first.map { $0.kind != .audio && !text.isEmpty && text.utf16.count <= Self.captionLimit } ?? false
        let parts = captioned || text.isEmpty ? [] : ChannelText.chunks(message.text, limit: Self.textLimit, as: .whatsApp).map { ChannelText.render($0, as: .whatsApp) }
        let steps = parts.count + message.attachments.count
        // A retry after a partial delivery continues where it stopped instead of repeating what the customer has.
        let progress = DeliveryProgress(store: context.store, key: message.idempotencyKey, steps: steps)
        var done = await progress.load()
        var receipt = DeliveryReceipt()
        do {
            for (index, part) in parts.enumerated() where index >= done {
                let id = try await api.sendMessage(Self.envelope(to: to, type: "text", ["body": part, "preview_url": false]))
                if index == 0 { receipt = DeliveryReceipt(externalID: id) }
                done += 1
                await progress.save(done)
            }
            for (index, attachment) in message.attachments.enumerated() where parts.count + index >= done {
                let id = try await sendFile(attachment, caption: captioned && index == 0 ? text : nil, to: to, api: api, context: context)
                if receipt.externalID == nil { receipt = DeliveryReceipt(externalID: id) }
                done += 1
                await progress.save(done)
            }
        } catch let error as WhatsAppGraphAPI.CallError {
            if error.code == WhatsAppGraphAPI.windowClosedCode {
                context.log(.error, error.failure.message, metadata: ["to": to, "key": message.idempotencyKey])
            }
            throw error.failure
        }
        await progress.clear()
        return receipt
    }

    /// Uploads one file and sends it as the message type WhatsApp takes for it.
    private func sendFile(_ attachment: OutboundAttachment, caption: String?, to: String, api: WhatsAppGraphAPI, context: any PluginContext) async throws -> String? {
        let data = try attachment.contents(context)
        let type = Self.messageType(attachment)
        let mediaID = try await api.uploadMedia(data, fileName: attachment.fileName, mimeType: attachment.mimeType)
        var object: [String: Any] = ["id": mediaID]
        if let caption { object["caption"] = caption }
        if type == "document" { object["filename"] = attachment.fileName }
        return try await api.sendMessage(Self.envelope(to: to, type: type, object))
    }

    /// WhatsApp takes JPEG and PNG as images and MP4 or 3GPP as video; any other file goes as a document.
    static func messageType(_ attachment: OutboundAttachment) -> String {
        switch attachment.kind {
        case .image where ["image/jpeg", "image/png"].contains(attachment.mimeType): "image"
        case .video where ["video/mp4", "video/3gpp"].contains(attachment.mimeType): "video"
        case .audio: "audio"
        default: "document"
        }
    }

    static func envelope(to: String, type: String, _ object: [String: Any]) -> [String: Any] {
        ["messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": type, type: object]
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(WhatsAppPlugin()) }
