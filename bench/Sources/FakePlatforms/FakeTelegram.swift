public import Foundation
public import Hummingbird
import NIOCore
import Synchronization

/// A local Telegram Bot API: `POST /bot<token>/<method>` with JSON or multipart bodies, answers
/// `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": "...", "parameters": {...}}` as
/// the Bot API documents them, and `GET /file/bot<token>/<file_path>` for downloads.
///
/// Implemented: getMe, getUpdates (long polling with `offset` confirmation and `timeout`), setWebhook,
/// deleteWebhook, sendMessage (with MarkdownV2 checked as Telegram parses it), editMessageText, deleteMessage, getFile,
/// sendPhoto, sendDocument. Tests queue updates, script failures (429 with retry_after, an outage), and read what was sent.
public final class FakeTelegram: Sendable {
    /// A message sent, edited or deleted (`method` "deleteMessage", with an empty text).
    public struct Sent: Sendable, Equatable {
        public var method: String
        public var chatID: Int64
        public var messageID: Int
        public var text: String
        public var parseMode: String?
        public var replyTo: Int?
        public var threadID: Int?
        /// For sendPhoto/sendDocument: the uploaded file's name and size.
        public var fileName: String?
        public var fileBytes: Int?
    }

    public enum Failure: Sendable {
        /// `{"ok": false, "error_code": code, "description": description}` (+ `parameters.retry_after`).
        case api(code: Int, description: String, retryAfter: Int? = nil)
        /// A bare HTTP status, as the proxy in front of the API answers during an outage.
        case http(Int)

        public static func tooManyRequests(retryAfter: Int) -> Failure {
            .api(code: 429, description: "Too Many Requests: retry after \(retryAfter)", retryAfter: retryAfter)
        }
    }

    private struct State {
        var updates: [(id: Int, json: Data)] = []
        var nextUpdateID = 100
        var nextMessageID = 1
        var webhookURL = ""
        var webhookSecret = ""
        var sent: [Sent] = []
        var calls: [String] = []
        var scripted: [String: [Failure]] = [:]
        var outage: Set<String>? = nil
        var files: [String: (path: String, data: Data)] = [:]
        var observer: (@Sendable (Sent) -> Void)?
        /// Off for long benchmark runs, so memory stays flat.
        var keepsSent = true
    }

    public let token: String
    public let botID: Int64 = 4242
    public let botUsername = "swiftlet_test_bot"
    private let state = Mutex(State())

    public init(token: String = "123456:TEST-token_abc") {
        self.token = token
    }

    // MARK: What tests see and script

    public var sent: [Sent] { state.withLock { $0.sent } }
    /// Every method called, in order (including failed calls).
    public var calls: [String] { state.withLock { $0.calls } }
    public var webhook: (url: String, secret: String) { state.withLock { ($0.webhookURL, $0.webhookSecret) } }
    public var pendingUpdates: Int { state.withLock { $0.updates.count } }

    /// Calls `observer` with every message sent or edited, as it arrives (benchmarks time replies with it). With
    /// `keep` false, sent messages are no longer kept for ``sent``.
    public func observeSends(keep: Bool = true, _ observer: @escaping @Sendable (Sent) -> Void) {
        state.withLock {
            $0.observer = observer
            $0.keepsSent = keep
        }
    }

    /// The next calls of `method` fail as given, in order.
    public func fail(_ method: String, _ failures: Failure...) {
        state.withLock { $0.scripted[method, default: []].append(contentsOf: failures) }
    }

    /// While down, `methods` (every method when nil) answer 502 Bad Gateway.
    public func setOutage(_ down: Bool, methods: Set<String>? = nil) {
        state.withLock { $0.outage = down ? (methods ?? []) : nil }
    }

    /// Registers a downloadable file; returns its file_id.
    public func addFile(_ data: Data, path: String) -> String {
        let id = "file-\(UUID().uuidString.prefix(8))"
        state.withLock { $0.files[id] = (path, data) }
        return id
    }

    /// A message update as Telegram builds it; queued for getUpdates, and returned as JSON for webhook tests.
    @discardableResult
    public func queueMessage(
        chatID: Int64, from userID: Int64, text: String? = nil, caption: String? = nil, chatType: String = "private", messageID: Int? = nil,
        replyToBot: Bool = false, photoFileID: String? = nil, document: (fileID: String, name: String, mimeType: String, size: Int)? = nil, queue: Bool = true
    ) -> Data {
        state.withLock { state in
            let updateID = state.nextUpdateID
            state.nextUpdateID += 1
            var message: [String: Any] = [
                "message_id": messageID ?? (1000 + updateID), "date": Int(Date().timeIntervalSince1970),
                "from": ["id": userID, "is_bot": false, "first_name": "User\(userID)"],
                "chat": chatType == "private" ? ["id": chatID, "type": "private", "first_name": "User\(userID)"] : ["id": chatID, "type": chatType, "title": "Group \(chatID)"],
            ]
            if let text {
                message["text"] = text
                if let range = text.range(of: "@" + botUsername) {
                    message["entities"] = [["type": "mention", "offset": text.utf16.distance(from: text.startIndex, to: range.lowerBound), "length": botUsername.utf16.count + 1]]
                }
            }
            if let caption { message["caption"] = caption }
            if replyToBot { message["reply_to_message"] = ["message_id": 1, "from": ["id": botID, "is_bot": true, "first_name": "Bot"], "chat": message["chat"]!] }
            if let photoFileID {
                let size = state.files[photoFileID]?.data.count ?? 0
                message["photo"] = [
                    ["file_id": photoFileID + "-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 100],
                    ["file_id": photoFileID, "file_unique_id": "l", "width": 800, "height": 600, "file_size": size],
                ]
            }
            if let document {
                message["document"] = ["file_id": document.fileID, "file_unique_id": "d", "file_name": document.name, "mime_type": document.mimeType, "file_size": document.size]
            }
            let json = (try? JSONSerialization.data(withJSONObject: ["update_id": updateID, "message": message])) ?? Data()
            if queue { state.updates.append((updateID, json)) }
            return json
        }
    }

    /// An update exactly as given (JSON text), for what Telegram should never send: ids that are strings or do not
    /// fit in 64 bits. `updateID` is the id an `offset` above confirms it by.
    public func queueRaw(_ json: String, updateID: Int) {
        state.withLock { $0.updates.append((updateID, Data(json.utf8))) }
    }

    // MARK: The API

    public var router: Router<FakePlatformContext> {
        let router = Router(context: FakePlatformContext.self)
        router.post("**") { request, _ in
            let body = Data(try await request.body.collect(upTo: 64 << 20).readableBytesView)
            return await self.handle(path: request.uri.path, contentType: request.headers[.contentType] ?? "", body: body)
        }
        router.get("**") { request, _ in
            self.download(path: request.uri.path)
        }
        return router
    }

    private func handle(path: String, contentType: String, body: Data) async -> Response {
        let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].hasPrefix("bot") else { return Self.reply(["ok": false, "error_code": 404, "description": "Not Found"], status: 404) }
        let method = parts[1]
        state.withLock { $0.calls.append(method) }
        guard String(parts[0].dropFirst(3)) == token else { return Self.reply(["ok": false, "error_code": 401, "description": "Unauthorized"], status: 401) }
        if let failure = state.withLock({ state -> Failure? in
            if let outage = state.outage, outage.isEmpty || outage.contains(method) { return .http(502) }
            guard var queue = state.scripted[method], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            state.scripted[method] = queue
            return first
        }) {
            switch failure {
            case .http(let status):
                return Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: "<html><body>\(status) Bad Gateway</body></html>")))
            case .api(let code, let description, let retryAfter):
                var answer: [String: Any] = ["ok": false, "error_code": code, "description": description]
                if let retryAfter { answer["parameters"] = ["retry_after": retryAfter] }
                return Self.reply(answer, status: code)
            }
        }
        let parameters: [String: Any]
        var upload: (name: String, bytes: Int)?
        if contentType.hasPrefix("multipart/form-data"), let boundary = contentType.components(separatedBy: "boundary=").last {
            let form = Self.multipart(body, boundary: boundary)
            parameters = form.fields
            upload = form.file
        } else {
            guard let object = (try? JSONSerialization.jsonObject(with: body.isEmpty ? Data("{}".utf8) : body)) as? [String: Any] else {
                return Self.reply(["ok": false, "error_code": 400, "description": "Bad Request: invalid JSON"], status: 400)
            }
            parameters = object
        }
        switch method {
        case "getMe":
            return Self.ok(["id": botID, "is_bot": true, "first_name": "Swiftlet", "username": botUsername, "can_join_groups": true])
        case "setWebhook":
            guard let url = parameters["url"] as? String else { return Self.badRequest("Bad Request: bad webhook: url is empty") }
            state.withLock {
                $0.webhookURL = url
                $0.webhookSecret = parameters["secret_token"] as? String ?? ""
            }
            return Self.ok(true, description: "Webhook was set")
        case "deleteWebhook":
            state.withLock { $0.webhookURL = "" }
            return Self.ok(true, description: "Webhook was deleted")
        case "getUpdates":
            return await updates(parameters)
        case "getFile":
            guard let id = parameters["file_id"] as? String, let file = state.withLock({ $0.files[id] }) else {
                return Self.badRequest("Bad Request: invalid file_id")
            }
            if file.data.count > 20 << 20 { return Self.badRequest("Bad Request: file is too big") }
            return Self.ok(["file_id": id, "file_unique_id": "u", "file_size": file.data.count, "file_path": file.path])
        case "sendMessage", "editMessageText", "sendPhoto", "sendDocument", "deleteMessage":
            return record(method, parameters, upload: upload)
        default:
            return Self.reply(["ok": false, "error_code": 404, "description": "Not Found: method not found"], status: 404)
        }
    }

    private func updates(_ parameters: [String: Any]) async -> Response {
        if state.withLock({ !$0.webhookURL.isEmpty }) {
            return Self.reply(
                ["ok": false, "error_code": 409, "description": "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"],
                status: 409)
        }
        let offset = (parameters["offset"] as? NSNumber)?.intValue ?? 0
        let timeout = min((parameters["timeout"] as? NSNumber)?.doubleValue ?? 0, 50)
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            let ready = state.withLock { state -> [Data] in
                // An offset confirms every earlier update: Telegram forgets them.
                state.updates.removeAll { $0.id < offset }
                return state.updates.map(\.json)
            }
            if !ready.isEmpty || ContinuousClock.now >= deadline {
                // The updates' own bytes, so a raw update reaches the client exactly as queued.
                var body = Data(#"{"ok":true,"result":["#.utf8)
                for (index, update) in ready.enumerated() {
                    if index > 0 { body.append(UInt8(ascii: ",")) }
                    body.append(update)
                }
                body.append(contentsOf: Array("]}".utf8))
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return Self.ok([Any]()) }
        }
    }

    private func record(_ method: String, _ parameters: [String: Any], upload: (name: String, bytes: Int)?) -> Response {
        guard let chat = parameters["chat_id"].flatMap({ ($0 as? NSNumber)?.int64Value ?? Int64("\($0)") }) else {
            return Self.badRequest("Bad Request: chat_id is empty")
        }
        guard chat != 666 else { return Self.reply(["ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"], status: 403) }
        let text = parameters["text"] as? String ?? parameters["caption"] as? String ?? ""
        let parseMode = parameters["parse_mode"] as? String
        if method == "deleteMessage" {
            let (response, observed, observer) = state.withLock { state -> (Response, Sent?, (@Sendable (Sent) -> Void)?) in
                let (response, deleted) = Self.delete(chat: chat, parameters, &state)
                return (response, deleted, state.observer)
            }
            if let observed, let observer { observer(observed) }
            return response
        }
        if method == "sendMessage" || method == "editMessageText" {
            if text.isEmpty { return Self.badRequest("Bad Request: message text is empty") }
            if text.utf16.count > 4096 { return Self.badRequest("Bad Request: message is too long") }
            if parseMode == "MarkdownV2", let problem = Self.checkMarkdownV2(text) { return Self.badRequest("Bad Request: can't parse entities: \(problem)") }
        }
        let reply = (parameters["reply_parameters"] as? [String: Any])?["message_id"] as? NSNumber
        let thread = (parameters["message_thread_id"] as? NSNumber)?.intValue ?? (parameters["message_thread_id"] as? String).flatMap(Int.init)
        let (response, observed, observer) = state.withLock { state -> (Response, Sent?, (@Sendable (Sent) -> Void)?) in
            let (response, sent) = Self.apply(method, chat: chat, text: text, parseMode: parseMode, reply: reply?.intValue, thread: thread, upload: upload, parameters, &state)
            return (response, sent, state.observer)
        }
        if let observed, let observer { observer(observed) }
        return response
    }

    /// deleteMessage: the bot's own message, once; then it is gone for edits and deletes alike.
    private static func delete(chat: Int64, _ parameters: [String: Any], _ state: inout State) -> (Response, Sent?) {
        let id = (parameters["message_id"] as? NSNumber)?.intValue ?? 0
        if state.keepsSent {
            guard let last = state.sent.last(where: { $0.messageID == id && $0.chatID == chat }), last.method != "deleteMessage" else {
                return (badRequest("Bad Request: message to delete not found"), nil)
            }
        }
        let deletion = Sent(method: "deleteMessage", chatID: chat, messageID: id, text: "", parseMode: nil, replyTo: nil, threadID: nil)
        if state.keepsSent { state.sent.append(deletion) }
        return (ok(true), deletion)
    }

    private static func apply(
        _ method: String, chat: Int64, text: String, parseMode: String?, reply: Int?, thread: Int?, upload: (name: String, bytes: Int)?, _ parameters: [String: Any],
        _ state: inout State
    ) -> (Response, Sent?) {
        if method == "editMessageText" {
            let id = (parameters["message_id"] as? NSNumber)?.intValue ?? 0
            if state.keepsSent {
                guard let index = state.sent.lastIndex(where: { $0.messageID == id && $0.chatID == chat }), state.sent[index].method != "deleteMessage"
                else {
                    return (badRequest("Bad Request: message to edit not found"), nil)
                }
                if state.sent[index].text == text {
                    return (badRequest("Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"), nil)
                }
            }
            let edit = Sent(method: method, chatID: chat, messageID: id, text: text, parseMode: parseMode, replyTo: nil, threadID: nil)
            if state.keepsSent { state.sent.append(edit) }
            return (ok(["message_id": id, "chat": ["id": chat], "text": text]), edit)
        }
        let id = state.nextMessageID
        state.nextMessageID += 1
        let sent = Sent(
            method: method, chatID: chat, messageID: id, text: text, parseMode: parseMode, replyTo: reply, threadID: thread, fileName: upload?.name, fileBytes: upload?.bytes)
        if state.keepsSent { state.sent.append(sent) }
        return (ok(["message_id": id, "date": Int(Date().timeIntervalSince1970), "chat": ["id": chat], "text": text]), sent)
    }

    private func download(path: String) -> Response {
        let prefix = "/file/bot\(token)/"
        guard path.hasPrefix(prefix), let file = state.withLock({ state in state.files.values.first { "\(prefix)\($0.path)" == path } }) else {
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: #"{"ok":false,"error_code":404,"description":"Not Found"}"#)))
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: file.data)))
    }

    /// How Telegram's parser refuses MarkdownV2: reserved characters outside entities must be escaped (but `>` may
    /// open a line, as a blockquote) and every entity must be closed. Returns the refusal, or nil when the text parses.
    public static func checkMarkdownV2(_ text: String) -> String? {
        let alwaysEscaped: Set<Character> = [".", "!", "-", "=", "+", "#", "|", "{", "}", ">", "(", ")", "]"]
        var open: [Character: Int] = [:]
        var inCode = false
        var inLinkURL = false
        var escaped = false
        var offset = 0
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            defer {
                offset += character.utf8.count
                index += 1
            }
            if escaped {
                escaped = false
                continue
            }
            if character == "\\" {
                escaped = true
                continue
            }
            if inCode {
                if character == "`" { inCode = false }
                continue
            }
            if inLinkURL {
                if character == ")" { inLinkURL = false }
                continue
            }
            if character == "`" {
                inCode = true
                continue
            }
            if character == "]", index + 1 < characters.count, characters[index + 1] == "(", open["["] != nil {
                open["["] = nil
                inLinkURL = true
                index += 1
                offset += 1
                continue
            }
            if character == "[" {
                open["["] = offset
                continue
            }
            if ["*", "_", "~"].contains(character) {
                if open[character] != nil { open[character] = nil } else { open[character] = offset }
                continue
            }
            // `>` opens a blockquote line (Bot API 7.0); anywhere else it is reserved.
            if character == ">", index == 0 || characters[index - 1] == "\n" { continue }
            if alwaysEscaped.contains(character) {
                return "Character '\(character)' is reserved and must be escaped with the preceding '\\'"
            }
        }
        if inCode { return "Can't find end of Pre entity at byte offset \(offset)" }
        if let (marker, at) = open.min(by: { $0.value < $1.value }) {
            let name = ["*": "Bold", "_": "Italic", "~": "Strikethrough", "[": "TextUrl"][marker] ?? "entity"
            return "Can't find end of \(name) entity at byte offset \(at)"
        }
        return nil
    }

    // MARK: Wire helpers

    static func ok(_ result: Any, description: String? = nil) -> Response {
        var answer: [String: Any] = ["ok": true, "result": result]
        if let description { answer["description"] = description }
        return reply(answer, status: 200)
    }

    static func badRequest(_ description: String) -> Response {
        reply(["ok": false, "error_code": 400, "description": description], status: 400)
    }

    static func reply(_ object: [String: Any], status: Int) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Fields and the first file of a multipart/form-data body.
    static func multipart(_ body: Data, boundary: String) -> (fields: [String: Any], file: (name: String, bytes: Int)?) {
        var fields: [String: Any] = [:]
        var file: (name: String, bytes: Int)?
        let delimiter = Data("--\(boundary)".utf8)
        var cursor = body.startIndex
        var sections: [Data] = []
        while let range = body.range(of: delimiter, in: cursor..<body.endIndex) {
            if cursor != body.startIndex { sections.append(body[cursor..<range.lowerBound]) }
            cursor = range.upperBound
        }
        for section in sections {
            guard let split = section.range(of: Data("\r\n\r\n".utf8)) else { continue }
            let head = String(decoding: section[section.startIndex..<split.lowerBound], as: UTF8.self)
            var content = section[split.upperBound..<section.endIndex]
            if content.suffix(2) == Data("\r\n".utf8) { content = content.dropLast(2) }
            guard let name = head.components(separatedBy: "name=\"").dropFirst().first?.components(separatedBy: "\"").first else { continue }
            if let fileName = head.components(separatedBy: "filename=\"").dropFirst().first?.components(separatedBy: "\"").first {
                file = (fileName, content.count)
            } else {
                fields[name] = String(decoding: content, as: UTF8.self)
            }
        }
        return (fields, file)
    }
}
