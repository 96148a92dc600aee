import Foundation
import PluginAPI

/// The messages of one webhook POST (`entry[].changes[].value.messages[]`), read without I/O; delivery statuses,
/// reactions and other notifications are skipped with a reason.
enum WhatsAppWebhookPayload {
    /// One customer message.
    struct Message: Sendable, Equatable {
        /// The wamid, stable across Meta's redeliveries.
        var id: String
        /// The customer's phone number (wa_id), which is also where the reply goes.
        var from: String
        var text: String
        var media: Media?
    }

    /// A received file, known by its media id until it is looked up.
    struct Media: Sendable, Equatable {
        var kind: InboundAttachment.Kind
        var id: String
        var mimeType: String?
        var fileName: String?
    }

    struct Parsed: Sendable, Equatable {
        var messages: [Message] = []
        /// Why parts were not read (statuses, another phone number, an unsupported type).
        var skipped: [String] = []
    }

    /// Nil when the body is not a WhatsApp Business Account notification.
    static func parse(_ body: Data, phoneNumberID: String) -> Parsed? {
        guard let root = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], root["object"] as? String == "whatsapp_business_account" else {
            return nil
        }
        var parsed = Parsed()
        for entry in root["entry"] as? [[String: Any]] ?? [] {
            for change in entry["changes"] as? [[String: Any]] ?? [] {
                guard change["field"] as? String == "messages", let value = change["value"] as? [String: Any] else {
                    parsed.skipped.append("field \(change["field"] as? String ?? "?")")
                    continue
                }
                // One app can serve several numbers; this channel answers for its own.
                if let number = (value["metadata"] as? [String: Any])?["phone_number_id"] as? String, number != phoneNumberID {
                    parsed.skipped.append("a message to phone number \(number)")
                    continue
                }
                if let statuses = value["statuses"] as? [Any], !statuses.isEmpty { parsed.skipped.append("\(statuses.count) delivery status(es)") }
                for item in value["messages"] as? [[String: Any]] ?? [] {
                    switch message(item) {
                    case .success(let message): parsed.messages.append(message)
                    case .failure(let reason): parsed.skipped.append(reason.text)
                    }
                }
            }
        }
        return parsed
    }

    struct Skip: Error, Sendable {
        var text: String
    }

    static func message(_ item: [String: Any]) -> Result<Message, Skip> {
        guard let id = item["id"] as? String, let from = item["from"] as? String, let type = item["type"] as? String else {
            return .failure(Skip(text: "a message without id, from or type"))
        }
        var message = Message(id: id, from: from, text: "", media: nil)
        switch type {
        case "text":
            message.text = (item["text"] as? [String: Any])?["body"] as? String ?? ""
        case "image", "video", "audio", "document", "sticker":
            guard let object = item[type] as? [String: Any], let mediaID = object["id"] as? String else { return .failure(Skip(text: "a \(type) without a media id")) }
            let kind: InboundAttachment.Kind =
                switch type {
                case "image", "sticker": .image
                case "video": .video
                case "audio": .audio
                default: .document
                }
            message.media = Media(kind: kind, id: mediaID, mimeType: object["mime_type"] as? String, fileName: object["filename"] as? String)
            message.text = object["caption"] as? String ?? ""
        case "interactive":
            let interactive = item["interactive"] as? [String: Any] ?? [:]
            let reply = interactive["button_reply"] as? [String: Any] ?? interactive["list_reply"] as? [String: Any]
            guard let title = reply?["title"] as? String else { return .failure(Skip(text: "an interactive reply of type \(interactive["type"] as? String ?? "?")")) }
            message.text = title
        case "button":
            guard let text = (item["button"] as? [String: Any])?["text"] as? String else { return .failure(Skip(text: "a button reply without text")) }
            message.text = text
        case "location":
            let location = item["location"] as? [String: Any] ?? [:]
            let place = [location["name"] as? String, location["address"] as? String].compactMap { $0 }.joined(separator: ", ")
            let latitude = (location["latitude"] as? NSNumber)?.stringValue ?? "?"
            let longitude = (location["longitude"] as? NSNumber)?.stringValue ?? "?"
            message.text = "[location: \(place.isEmpty ? "" : place + " ")(\(latitude), \(longitude))]"
        default:
            return .failure(Skip(text: "a message of type \(type)"))
        }
        guard !message.text.isEmpty || message.media != nil else { return .failure(Skip(text: "an empty \(type) message")) }
        return .success(message)
    }
}
