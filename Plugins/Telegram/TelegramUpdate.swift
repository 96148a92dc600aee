import Foundation
import PluginAPI

/// One Bot API update reduced to what the gateway needs; pure, so polling and the webhook share it.
struct TelegramUpdate {
    var updateID: Int
    var message: Message?

    struct Message {
        var chatID: Int64
        var chatType: String
        var messageID: Int
        var threadID: Int?
        var senderID: Int64
        var senderIsBot: Bool
        var text: String
        var mentionsBot: Bool
        var repliesToBot: Bool
        var files: [File]
    }

    struct File {
        var kind: InboundAttachment.Kind
        var fileID: String
        var fileName: String?
        var mimeType: String?
        var size: Int?
    }

    /// Parses one update object; nil when it is not an object with an `update_id`.
    static func parse(_ object: [String: Any], botID: Int64, botUsername: String) -> TelegramUpdate? {
        guard let updateID = (object["update_id"] as? NSNumber)?.intValue else { return nil }
        var update = TelegramUpdate(updateID: updateID)
        guard let message = object["message"] as? [String: Any], let chat = message["chat"] as? [String: Any],
            let chatID = (chat["id"] as? NSNumber)?.int64Value, let messageID = (message["message_id"] as? NSNumber)?.intValue
        else { return update }
        let from = message["from"] as? [String: Any] ?? [:]
        let text = message["text"] as? String ?? message["caption"] as? String ?? ""
        let entities = (message["entities"] as? [[String: Any]] ?? []) + (message["caption_entities"] as? [[String: Any]] ?? [])
        let handle = "@" + botUsername.lowercased()
        let mentions =
            !botUsername.isEmpty
            && (entities.contains { entity in
                guard entity["type"] as? String == "mention", let offset = (entity["offset"] as? NSNumber)?.intValue,
                    let length = (entity["length"] as? NSNumber)?.intValue
                else { return false }
                let units = Array(text.utf16)
                guard offset >= 0, length > 0, offset + length <= units.count else { return false }
                return String(decoding: units[offset..<(offset + length)], as: UTF16.self).lowercased() == handle
            } || text.lowercased().contains(handle))
        let replied = ((message["reply_to_message"] as? [String: Any])?["from"] as? [String: Any])?["id"] as? NSNumber
        var files: [File] = []
        if let sizes = message["photo"] as? [[String: Any]], let largest = sizes.max(by: { size($0) < size($1) }), let id = largest["file_id"] as? String {
            files.append(File(kind: .image, fileID: id, fileName: nil, mimeType: "image/jpeg", size: (largest["file_size"] as? NSNumber)?.intValue))
        }
        for (key, kind) in [("document", InboundAttachment.Kind.document), ("audio", .audio), ("voice", .audio), ("video", .video)] {
            if let file = message[key] as? [String: Any], let id = file["file_id"] as? String {
                files.append(
                    File(
                        kind: kind, fileID: id, fileName: file["file_name"] as? String, mimeType: file["mime_type"] as? String,
                        size: (file["file_size"] as? NSNumber)?.intValue))
            }
        }
        update.message = Message(
            chatID: chatID, chatType: chat["type"] as? String ?? "private", messageID: messageID,
            threadID: (message["is_topic_message"] as? Bool == true) ? (message["message_thread_id"] as? NSNumber)?.intValue : nil,
            senderID: (from["id"] as? NSNumber)?.int64Value ?? chatID, senderIsBot: from["is_bot"] as? Bool ?? false, text: text, mentionsBot: mentions,
            repliesToBot: replied?.int64Value == botID, files: files)
        return update
    }

    private static func size(_ photo: [String: Any]) -> Int {
        (photo["file_size"] as? NSNumber)?.intValue ?? ((photo["width"] as? NSNumber)?.intValue ?? 0) * ((photo["height"] as? NSNumber)?.intValue ?? 0)
    }
}

/// Where a reply goes: the chat, the message answered (quoted in groups) and the forum topic.
struct TelegramTarget: Equatable {
    var chatID: Int64
    var replyTo: Int?
    var threadID: Int?

    var encoded: String { "\(chatID)/\(replyTo ?? 0)/\(threadID ?? 0)" }

    init(chatID: Int64, replyTo: Int?, threadID: Int?) {
        self.chatID = chatID
        self.replyTo = replyTo
        self.threadID = threadID
    }

    init?(_ text: String) {
        let parts = text.split(separator: "/").map(String.init)
        guard let first = parts.first, let chat = Int64(first) else { return nil }
        chatID = chat
        let reply = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let thread = parts.count > 2 ? Int(parts[2]) ?? 0 : 0
        replyTo = reply == 0 ? nil : reply
        threadID = thread == 0 ? nil : thread
    }
}
