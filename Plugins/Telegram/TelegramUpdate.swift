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

    /// Why an update is not taken: an id that is missing where the Bot API always sends one, or that is not an
    /// integer fitting in 64 bits. `updateID` is set when the update's own id was readable, so polling can confirm
    /// the update and move on.
    struct Refusal: Error, CustomStringConvertible {
        var updateID: Int?
        var reason: String

        var description: String { "telegram update \(updateID.map(String.init) ?? "?") refused: \(reason)" }
    }

    /// Parses one update object. Updates of other kinds than `message` parse with `message` nil.
    ///
    /// - Throws: ``Refusal`` when `update_id`, `message.message_id`, `message.chat.id`, `message.from.id`, a topic's
    ///   `message_thread_id` or the replied-to sender's id is missing or not an exact 64-bit integer
    ///   (see ``TelegramInteger``).
    static func parse(_ object: [String: Any], botID: Int64, botUsername: String) throws(Refusal) -> TelegramUpdate {
        guard let updateID = TelegramInteger.int(object["update_id"]) else {
            throw Refusal(reason: "update_id is \(TelegramInteger.describe(object["update_id"])), not an integer")
        }
        var update = TelegramUpdate(updateID: updateID)
        guard let message = object["message"] as? [String: Any] else { return update }
        /// A required id of the message, exactly as sent.
        func requiredID(_ value: Any?, _ name: String) throws(Refusal) -> Int64 {
            guard let id = TelegramInteger.exact(value) else {
                throw Refusal(updateID: updateID, reason: "\(name) is \(TelegramInteger.describe(value)), not an integer that fits in 64 bits")
            }
            return id
        }
        let chat = message["chat"] as? [String: Any] ?? [:]
        let chatID = try requiredID(chat["id"], "message.chat.id")
        let messageID = try Int(requiredID(message["message_id"], "message.message_id"))
        let from = message["from"] as? [String: Any]
        var senderID = chatID
        if let from { senderID = try requiredID(from["id"], "message.from.id") }
        var threadID: Int?
        if message["is_topic_message"] as? Bool == true { threadID = try Int(requiredID(message["message_thread_id"], "message.message_thread_id")) }
        var repliedID: Int64?
        if let replied = (message["reply_to_message"] as? [String: Any])?["from"] as? [String: Any] {
            repliedID = try requiredID(replied["id"], "message.reply_to_message.from.id")
        }
        let text = message["text"] as? String ?? message["caption"] as? String ?? ""
        let entities = (message["entities"] as? [[String: Any]] ?? []) + (message["caption_entities"] as? [[String: Any]] ?? [])
        let handle = "@" + botUsername.lowercased()
        let mentions =
            !botUsername.isEmpty
            && (entities.contains { entity in
                guard entity["type"] as? String == "mention", let offset = TelegramInteger.int(entity["offset"]),
                    let length = TelegramInteger.int(entity["length"])
                else { return false }
                let units = Array(text.utf16)
                guard offset >= 0, length > 0, offset <= units.count - length else { return false }
                return String(decoding: units[offset..<(offset + length)], as: UTF16.self).lowercased() == handle
            } || text.lowercased().contains(handle))
        var files: [File] = []
        if let sizes = message["photo"] as? [[String: Any]], let largest = sizes.max(by: { size($0) < size($1) }), let id = largest["file_id"] as? String {
            files.append(File(kind: .image, fileID: id, fileName: nil, mimeType: "image/jpeg", size: TelegramInteger.int(largest["file_size"])))
        }
        for (key, kind) in [("document", InboundAttachment.Kind.document), ("audio", .audio), ("voice", .audio), ("video", .video)] {
            if let file = message[key] as? [String: Any], let id = file["file_id"] as? String {
                files.append(
                    File(
                        kind: kind, fileID: id, fileName: file["file_name"] as? String, mimeType: file["mime_type"] as? String,
                        size: TelegramInteger.int(file["file_size"])))
            }
        }
        update.message = Message(
            chatID: chatID, chatType: chat["type"] as? String ?? "private", messageID: messageID, threadID: threadID, senderID: senderID,
            senderIsBot: from?["is_bot"] as? Bool ?? false, text: text, mentionsBot: mentions, repliesToBot: repliedID == botID, files: files)
        return update
    }

    private static func size(_ photo: [String: Any]) -> Int {
        if let size = TelegramInteger.int(photo["file_size"]) { return size }
        let (width, height) = (TelegramInteger.int(photo["width"]) ?? 0, TelegramInteger.int(photo["height"]) ?? 0)
        return width.multipliedReportingOverflow(by: height).overflow ? Int.max : width * height
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
