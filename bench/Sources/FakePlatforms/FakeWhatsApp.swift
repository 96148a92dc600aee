import Crypto
public import Foundation
public import Hummingbird
import NIOCore
import Synchronization

/// A local WhatsApp Business Cloud API: `POST /v21.0/<phone_number_id>/messages`, `POST /v21.0/<phone_number_id>/media`
/// (multipart upload), `GET /v21.0/<media_id>` (media lookup) and the download URL it hands out, with Meta's wire
/// formats and Graph error objects. It records every call, can be told to fail (throttling, an outage, an error
/// code for one recipient such as 131047, the closed 24-hour window), and plays Meta's side of the webhook: it
/// builds notification payloads and signs them with the app secret.
///
/// ```swift
/// let whatsapp = FakeWhatsApp()
/// whatsapp.refuse(recipient: "15551230000", code: 131047)
/// try await FakePlatformServer.withServer(whatsapp.router) { server in
///     // config base_url: server.baseURL + "/v21.0"
///     let body = FakeWhatsApp.encode(whatsapp.notification([FakeWhatsApp.text(from: "15551230000", body: "hi")]))
///     // POST body to /channels/whatsapp/webhook with X-Hub-Signature-256: whatsapp.signature(for: body)
/// }
/// ```
public final class FakeWhatsApp: Sendable {
    /// A scripted failure for the next call to the messages or media endpoint.
    public enum Failure: Sendable, Equatable {
        /// HTTP 429 with `Retry-After` (when given) and Graph error 130429 (throughput reached).
        case rateLimited(retryAfter: Int?)
        /// That HTTP status with Graph error 2 (service temporarily unavailable).
        case status(Int)
        /// A Graph error with that code, HTTP 400.
        case error(code: Int)
    }

    public enum Endpoint: Sendable, Equatable {
        case messages, media
    }

    /// A message the business sent.
    public struct Sent: Sendable {
        public var to: String
        public var type: String
        /// The request body as received.
        public var body: Data
        public var id: String

        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// `text.body` of a text message.
        public var text: String? { (json["text"] as? [String: Any])?["body"] as? String }
    }

    /// A file stored on Meta's side: uploaded by the business, or sent by a customer.
    public struct Media: Sendable, Equatable {
        public var id: String
        public var mimeType: String
        public var fileName: String?
        public var bytes: Data
        /// The `type` field of the upload form (nil for a customer's file).
        public var declaredType: String?
    }

    private struct State {
        var calls: [FakePlatformCall] = []
        var failures: [(endpoint: Endpoint, failure: Failure)] = []
        var refusals: [String: Int] = [:]
        var sent: [Sent] = []
        var media: [String: Media] = [:]
        var uploads: [String] = []
        var counter = 0
    }

    public let version: String
    public let phoneNumberID: String
    public let accessToken: String
    public let appSecret: String
    public let businessAccountID = "102290129340398"
    private let state = Mutex(State())

    public init(
        version: String = "v21.0", phoneNumberID: String = "106540352242922", accessToken: String = "EAAFakeAccessToken", appSecret: String = "fake-app-secret"
    ) {
        self.version = version
        self.phoneNumberID = phoneNumberID
        self.accessToken = accessToken
        self.appSecret = appSecret
    }

    // MARK: Scripting and records

    /// The next `times` calls to `endpoint` fail this way.
    public func fail(_ endpoint: Endpoint = .messages, times: Int = 1, with failure: Failure) {
        state.withLock { state in
            for _ in 0..<times { state.failures.append((endpoint, failure)) }
        }
    }

    /// Every message to `recipient` gets Graph error `code` (131047: the 24-hour window is closed).
    public func refuse(recipient: String, code: Int) {
        state.withLock { $0.refusals[recipient] = code }
    }

    /// Every request received, failed ones included, in order.
    public var calls: [FakePlatformCall] { state.withLock { $0.calls } }

    /// The messages accepted, in order.
    public var sent: [Sent] { state.withLock { $0.sent } }

    /// The files the business uploaded, in order.
    public var uploads: [Media] { state.withLock { state in state.uploads.compactMap { state.media[$0] } } }

    /// Stores a customer's file under `id`, to be looked up and downloaded.
    public func hostMedia(id: String, bytes: Data, mimeType: String) {
        state.withLock { $0.media[id] = Media(id: id, mimeType: mimeType, fileName: nil, bytes: bytes, declaredType: nil) }
    }

    // MARK: The platform

    public var router: Router<FakePlatformContext> {
        let router = Router(context: FakePlatformContext.self)
        // One parameter name per level: the router's tree needs it (a phone number id here, a media id below).
        router.post("\(version)/:id/messages") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.messages(call, phone: context.parameters.get("id") ?? "")
        }
        router.post("\(version)/:id/media") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.upload(call, phone: context.parameters.get("id") ?? "")
        }
        router.get("\(version)/:id") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.lookup(call, id: context.parameters.get("id") ?? "", host: request.head.authority ?? "127.0.0.1")
        }
        router.get("whatsapp-media/:id") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.state.withLock { state in
                state.calls.append(call)
                guard call.headers["authorization"] == "Bearer \(self.accessToken)" else { return Self.graphError(code: 190, status: .unauthorized) }
                guard let media = state.media[context.parameters.get("id") ?? ""] else { return Response(status: .notFound) }
                return Response(status: .ok, headers: [.contentType: media.mimeType], body: .init(byteBuffer: ByteBuffer(bytes: media.bytes)))
            }
        }
        return router
    }

    private func messages(_ call: FakePlatformCall, phone: String) -> Response {
        state.withLock { state in
            state.calls.append(call)
            if let refusal = checks(call, phone: phone, endpoint: .messages, state: &state) { return refusal }
            guard let json = call.json, json["messaging_product"] as? String == "whatsapp" else {
                return Self.graphError(code: 100, details: "The parameter messaging_product is required.")
            }
            guard let to = json["to"] as? String, !to.isEmpty else { return Self.graphError(code: 100, details: "The parameter to is required.") }
            let type = json["type"] as? String ?? "text"
            if let code = state.refusals[to] { return Self.graphError(code: code) }
            switch type {
            case "text":
                guard let body = (json["text"] as? [String: Any])?["body"] as? String, !body.isEmpty else {
                    return Self.graphError(code: 100, details: "The parameter text['body'] is required.")
                }
                guard body.utf16.count <= 4096 else { return Self.graphError(code: 100, details: "Param text['body'] must be at most 4096 characters long.") }
            case "image", "document", "audio", "video", "sticker":
                guard let object = json[type] as? [String: Any], let id = object["id"] as? String ?? object["link"] as? String else {
                    return Self.graphError(code: 100, details: "The parameter \(type)['id'] or \(type)['link'] is required.")
                }
                if object["link"] == nil, state.media[id] == nil { return Self.graphError(code: 131053, details: "Media upload error: unknown media id \(id).") }
                if let caption = object["caption"] as? String, caption.utf16.count > 1024 {
                    return Self.graphError(code: 100, details: "Param \(type)['caption'] must be at most 1024 characters long.")
                }
            default:
                return Self.graphError(code: 100, details: "Invalid parameter: type \(type) is not supported here.")
            }
            state.counter += 1
            let id = "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI\(String(format: "%06d", state.counter))"
            state.sent.append(Sent(to: to, type: type, body: call.body, id: id))
            return FakePlatformCall.json(["messaging_product": "whatsapp", "contacts": [["input": to, "wa_id": to]], "messages": [["id": id]]])
        }
    }

    private func upload(_ call: FakePlatformCall, phone: String) -> Response {
        state.withLock { state in
            state.calls.append(call)
            if let refusal = checks(call, phone: phone, endpoint: .media, state: &state) { return refusal }
            guard let parts = Self.multipart(call) else { return Self.graphError(code: 100, details: "The request must be multipart/form-data.") }
            guard parts.first(where: { $0.name == "messaging_product" })?.text == "whatsapp" else {
                return Self.graphError(code: 100, details: "The parameter messaging_product is required.")
            }
            guard let file = parts.first(where: { $0.name == "file" && $0.fileName != nil }) else { return Self.graphError(code: 100, details: "The parameter file is required.") }
            state.counter += 1
            let id = String(4_000_000_000_000_000 + state.counter)
            state.media[id] = Media(
                id: id, mimeType: file.contentType ?? "application/octet-stream", fileName: file.fileName, bytes: file.data,
                declaredType: parts.first { $0.name == "type" }?.text)
            state.uploads.append(id)
            return FakePlatformCall.json(["id": id])
        }
    }

    private func lookup(_ call: FakePlatformCall, id: String, host: String) -> Response {
        state.withLock { state in
            state.calls.append(call)
            guard call.headers["authorization"] == "Bearer \(accessToken)" else { return Self.graphError(code: 190, status: .unauthorized) }
            guard let media = state.media[id] else {
                return Self.graphError(code: 100, details: "Unsupported get request. Object with ID '\(id)' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")
            }
            return FakePlatformCall.json([
                "messaging_product": "whatsapp", "url": "http://\(host)/whatsapp-media/\(id)?ext=1&hash=fake", "mime_type": media.mimeType,
                "sha256": FakePlatformCall.hex(SHA256.hash(data: media.bytes)), "file_size": media.bytes.count, "id": id,
            ])
        }
    }

    /// The token, the phone number and the scripted failures, in the order Meta checks them.
    private func checks(_ call: FakePlatformCall, phone: String, endpoint: Endpoint, state: inout State) -> Response? {
        guard call.headers["authorization"] == "Bearer \(accessToken)" else { return Self.graphError(code: 190, status: .unauthorized) }
        guard phone == phoneNumberID else {
            return Self.graphError(
                code: 100, details: "Unsupported post request. Object with ID '\(phone)' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")
        }
        guard let index = state.failures.firstIndex(where: { $0.endpoint == endpoint }) else { return nil }
        switch state.failures.remove(at: index).failure {
        case .rateLimited(let seconds):
            var headers = HTTPFields()
            if let seconds { headers[.retryAfter] = String(seconds) }
            return Self.graphError(code: 130429, status: .tooManyRequests, headers: headers)
        case .status(let status):
            return Self.graphError(code: 2, status: .init(code: status))
        case .error(let code):
            return Self.graphError(code: code)
        }
    }

    /// A Graph API error object, with Meta's wording for the codes the tests use.
    static func graphError(code: Int, status: HTTPResponse.Status = .badRequest, details: String? = nil, headers: HTTPFields = [:]) -> Response {
        let (message, standardDetails): (String, String) =
            switch code {
            case 190: ("Invalid OAuth access token - Cannot parse access token", "")
            case 131047:
                ("(#131047) Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
            case 130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached.")
            case 131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit", "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.")
            case 2: ("(#2) Service temporarily unavailable", "Service temporarily unavailable.")
            default: ("(#\(code)) Invalid parameter", details ?? "Invalid parameter")
            }
        var error: [String: Any] = ["message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AfakeTrace0123456789"]
        let shown = details ?? standardDetails
        if !shown.isEmpty { error["error_data"] = ["messaging_product": "whatsapp", "details": shown] }
        return FakePlatformCall.json(["error": error], status: status, headers: headers)
    }

    private struct Part {
        var name: String
        var fileName: String?
        var contentType: String?
        var data: Data
        var text: String { String(decoding: data, as: UTF8.self) }
    }

    /// The parts of a `multipart/form-data` body.
    private static func multipart(_ call: FakePlatformCall) -> [Part]? {
        guard let type = call.headers["content-type"], type.hasPrefix("multipart/form-data"), let boundary = attribute("boundary", in: type) else { return nil }
        let body = call.body
        let delimiter = Data("--\(boundary)".utf8)
        var parts: [Part] = []
        var cursor: Int = body.startIndex
        while let start = body.range(of: delimiter, in: cursor..<body.endIndex) {
            var partStart: Int = start.upperBound
            let rest = body.subdata(in: partStart..<body.endIndex)
            if rest.starts(with: Data("--".utf8)) { break }
            if rest.starts(with: Data("\r\n".utf8)) { partStart += 2 }
            guard let next = body.range(of: delimiter, in: partStart..<body.endIndex),
                let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: partStart..<next.lowerBound)
            else { return nil }
            let headers = String(decoding: body[partStart..<headerEnd.lowerBound], as: UTF8.self)
            var dataEnd = next.lowerBound
            if body[..<dataEnd].suffix(2) == Data("\r\n".utf8) { dataEnd -= 2 }
            var part = Part(name: "", data: Data(body[headerEnd.upperBound..<dataEnd]))
            for line in headers.components(separatedBy: "\r\n") {
                let lower = line.lowercased()
                if lower.hasPrefix("content-disposition:") {
                    part.name = Self.attribute("name", in: line) ?? ""
                    part.fileName = Self.attribute("filename", in: line)
                } else if lower.hasPrefix("content-type:") {
                    part.contentType = String(line.dropFirst("content-type:".count)).trimmingCharacters(in: CharacterSet.whitespaces)
                }
            }
            parts.append(part)
            cursor = next.lowerBound
        }
        return parts
    }

    private static func attribute(_ name: String, in header: String) -> String? {
        for item in header.split(separator: ";") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == name { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    // MARK: Meta's side of the webhook

    /// `sha256=` + hex HMAC-SHA256 of the body under the app secret: the `X-Hub-Signature-256` header.
    public func signature(for body: Data, secret: String? = nil) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data((secret ?? appSecret).utf8)))
        return "sha256=" + FakePlatformCall.hex(mac)
    }

    /// A `whatsapp_business_account` notification carrying `messages` (and `statuses`) to this phone number.
    public func notification(_ messages: [[String: Any]], statuses: [[String: Any]] = [], profileName: String = "Kerry Fisher") -> [String: Any] {
        var value: [String: Any] = [
            "messaging_product": "whatsapp", "metadata": ["display_phone_number": "15550783881", "phone_number_id": phoneNumberID],
        ]
        if !messages.isEmpty {
            value["messages"] = messages
            value["contacts"] = messages.compactMap { $0["from"] as? String }.map { from -> [String: Any] in ["profile": ["name": profileName], "wa_id": from] }
        }
        if !statuses.isEmpty { value["statuses"] = statuses }
        return ["object": "whatsapp_business_account", "entry": [["id": businessAccountID, "changes": [["value": value, "field": "messages"]]]]]
    }

    public static func text(from: String, body: String, id: String = newMessageID()) -> [String: Any] {
        ["from": from, "id": id, "timestamp": timestamp(), "type": "text", "text": ["body": body]]
    }

    /// An image, video, audio, document or sticker message; `type` names the object as Meta does.
    public static func media(type: String, from: String, mediaID: String, mimeType: String, caption: String? = nil, fileName: String? = nil, id: String = newMessageID())
        -> [String: Any]
    {
        var object: [String: Any] = ["id": mediaID, "mime_type": mimeType, "sha256": "fakehash"]
        if let caption { object["caption"] = caption }
        if let fileName { object["filename"] = fileName }
        return ["from": from, "id": id, "timestamp": timestamp(), "type": type, type: object]
    }

    /// A tap on a reply button of an interactive message.
    public static func buttonReply(from: String, title: String, buttonID: String = "btn-1", id: String = newMessageID()) -> [String: Any] {
        ["from": from, "id": id, "timestamp": timestamp(), "type": "interactive", "interactive": ["type": "button_reply", "button_reply": ["id": buttonID, "title": title]]]
    }

    /// A delivery status of a message the business sent.
    public static func status(_ state: String, messageID: String, recipient: String) -> [String: Any] {
        ["id": messageID, "status": state, "timestamp": timestamp(), "recipient_id": recipient]
    }

    public static func newMessageID() -> String {
        "wamid.HBgL" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24)
    }

    public static func encode(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    private static func timestamp() -> String { String(Int(Date().timeIntervalSince1970)) }
}
