import Crypto
public import Foundation
public import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Synchronization

/// A local Slack: the Web API methods a channel calls (`auth.test`, `chat.postMessage`, `chat.update`, the external
/// file upload `files.getUploadURLExternal` → upload URL → `files.completeUploadExternal`) under `/api/`, and private
/// file downloads, with Slack's wire formats and error codes. It records every call, can be told to fail, and plays
/// Slack's side of the Events API too: it builds event payloads and signs them as Slack does. Socket Mode as well:
/// `apps.connections.open` (app-level token only) hands out a one-use `…/link/?ticket=` WebSocket URL, a connection
/// gets `hello`, and the test pushes envelopes, `disconnect` frames and drops through ``push(_:on:retryAttempt:)``,
/// ``disconnect(reason:on:)`` and ``drop(_:)``; acknowledgements are recorded in ``acknowledged``.
///
/// ```swift
/// let slack = FakeSlack()
/// slack.fail("chat.postMessage", with: .rateLimited(retryAfter: 1))
/// try await FakePlatformServer.withServer(slack.router) { server in
///     // config base_url: server.baseURL + "/api"
///     let body = FakeSlack.encode(slack.eventCallback(FakeSlack.message(channel: "D1", user: "U1", text: "hi", ts: "1.000100")))
///     // POST body to /channels/slack/webhook with slack.signedHeaders(for: body)
/// }
/// ```
public final class FakeSlack: Sendable {
    /// A scripted failure for the next call of a method.
    public enum Failure: Sendable, Equatable {
        /// HTTP 429 with `Retry-After` (seconds) and `{"ok": false, "error": "ratelimited"}`.
        case rateLimited(retryAfter: Int)
        /// That HTTP status with a plain-text body, as Slack's edge answers when it is down.
        case status(Int)
        /// HTTP 200 with `{"ok": false, "error": code}` (`channel_not_found`, `not_in_channel`, `msg_too_long` ...).
        case error(String)
    }

    /// A message in a conversation, as it stands after every edit.
    public struct Message: Sendable, Equatable {
        public var channel: String
        public var ts: String
        public var threadTS: String?
        public var text: String
        /// How many times `chat.update` changed it.
        public var edits: Int
    }

    /// A file shared with `files.completeUploadExternal`.
    public struct SharedFile: Sendable, Equatable {
        public var id: String
        public var fileName: String
        public var title: String?
        public var bytes: Data
        public var channel: String?
        public var threadTS: String?
    }

    private struct Upload {
        var fileName: String
        var length: Int
        var bytes: Data?
    }

    /// What a Socket Mode connection of the fake is told to do next.
    private enum Outgoing: Sendable {
        case text(String)
        case close
    }

    private struct State {
        var calls: [FakePlatformCall] = []
        var tickets: Set<String> = []
        var sockets: [Int: AsyncStream<Outgoing>.Continuation] = [:]
        var socketsOpened = 0
        var acknowledged: [String] = []
        var failures: [(method: String?, failure: Failure)] = []
        var messages: [Message] = []
        var uploads: [String: Upload] = [:]
        var shared: [SharedFile] = []
        var hosted: [String: (bytes: Data, mimeType: String)] = [:]
        var clock = 0
    }

    public let token: String
    /// The app-level token (`xapp-…`) that `apps.connections.open` takes.
    public let appToken: String
    public let signingSecret: String
    public let botUserID: String
    public let teamID: String
    private let state = Mutex(State())

    public init(
        token: String = "xoxb-fake-bot-token", appToken: String = "xapp-1-A0SWIFTLET-1-fake-app-token", signingSecret: String = "fake-signing-secret",
        botUserID: String = "U0SWIFTBOT", teamID: String = "T0FAKE"
    ) {
        self.token = token
        self.appToken = appToken
        self.signingSecret = signingSecret
        self.botUserID = botUserID
        self.teamID = teamID
    }

    // MARK: Scripting and records

    /// The next `times` calls of `method` (any Web API method when nil) fail this way.
    public func fail(_ method: String? = nil, times: Int = 1, with failure: Failure) {
        state.withLock { state in
            for _ in 0..<times { state.failures.append((method, failure)) }
        }
    }

    /// Every request received, failed ones included, in order.
    public var calls: [FakePlatformCall] { state.withLock { $0.calls } }

    /// The calls of one Web API method (`chat.postMessage`).
    public func calls(_ method: String) -> [FakePlatformCall] { calls.filter { $0.path == "/api/\(method)" } }

    /// The messages the bot posted, in order, as they read now.
    public var messages: [Message] { state.withLock { $0.messages } }

    public var sharedFiles: [SharedFile] { state.withLock { $0.shared } }

    /// Serves `bytes` as a private file and returns its object as events carry it in `files[]`.
    public func hostFile(name: String, bytes: Data, mimeType: String, baseURL: String) -> [String: Any] {
        let id = "F" + String(UUID().uuidString.prefix(8)).uppercased()
        let path = "/files-pri/\(teamID)-\(id)/download/\(name)"
        state.withLock { $0.hosted[path] = (bytes, mimeType) }
        return [
            "id": id, "created": Int(Date().timeIntervalSince1970), "name": name, "title": name, "mimetype": mimeType, "filetype": (name as NSString).pathExtension,
            "user": "U0SENDER", "mode": "hosted", "size": bytes.count, "url_private": baseURL + "/files-pri/\(teamID)-\(id)/\(name)",
            "url_private_download": baseURL + path, "is_external": false,
        ]
    }

    // MARK: The platform

    public var router: Router<FakePlatformContext> {
        let router = Router(context: FakePlatformContext.self)
        router.post("api/:method") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.answer(call, method: context.parameters.get("method") ?? "", host: request.head.authority ?? "127.0.0.1")
        }
        router.post("upload/v1/:id") { request, context -> Response in
            let call = try await FakePlatformCall.read(request)
            let id = context.parameters.get("id") ?? ""
            return self.state.withLock { state in
                state.calls.append(call)
                guard state.uploads[id] != nil else { return Response(status: .notFound) }
                state.uploads[id]?.bytes = call.body
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "OK - \(call.body.count)")))
            }
        }
        router.ws(
            "link",
            shouldUpgrade: { request, _ in
                let ticket = request.uri.queryParameters.get("ticket") ?? ""
                // A ticket is good for one connection.
                let valid = self.state.withLock { $0.tickets.remove(ticket) != nil }
                return valid ? .upgrade([:]) : .dontUpgrade
            },
            onUpgrade: { inbound, outbound, _ in
                try await self.serveSocket(inbound: inbound, outbound: outbound)
            })
        router.get("files-pri/**") { request, _ -> Response in
            let call = try await FakePlatformCall.read(request)
            return self.state.withLock { state in
                state.calls.append(call)
                guard call.headers["authorization"] == "Bearer \(self.token)" else { return Response(status: .forbidden) }
                guard let file = state.hosted[call.path] else { return Response(status: .notFound) }
                return Response(status: .ok, headers: [.contentType: file.mimeType], body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
            }
        }
        return router
    }

    private func answer(_ call: FakePlatformCall, method: String, host: String) -> Response {
        state.withLock { state in
            state.calls.append(call)
            if let index = state.failures.firstIndex(where: { $0.method == nil || $0.method == method }) {
                switch state.failures.remove(at: index).failure {
                case .rateLimited(let seconds):
                    return FakePlatformCall.json(["ok": false, "error": "ratelimited"], status: .tooManyRequests, headers: [.retryAfter: String(seconds)])
                case .status(let code):
                    return Response(status: .init(code: code), headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "upstream error")))
                case .error(let code):
                    return FakePlatformCall.json(["ok": false, "error": code])
                }
            }
            let parameters = Self.parameters(call)
            let bearer = call.headers["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? parameters["token"] as? String
            guard let bearer else { return Self.error("not_authed") }
            // apps.connections.open takes only the app-level token, every other method only the bot token.
            let expected = method == "apps.connections.open" ? appToken : token
            guard bearer == expected else { return Self.error([token, appToken].contains(bearer) ? "not_allowed_token_type" : "invalid_auth") }
            func text(_ name: String) -> String? { (parameters[name] as? String).flatMap { $0.isEmpty ? nil : $0 } }
            switch method {
            case "apps.connections.open":
                return FakePlatformCall.json(["ok": true, "url": Self.issueTicket(in: &state, host: host)])
            case "auth.test":
                return FakePlatformCall.json([
                    "ok": true, "url": "https://fake.slack.com/", "team": "Fake Team", "user": "swiftlet", "team_id": teamID, "user_id": botUserID,
                    "bot_id": "B0SWIFTBOT", "is_enterprise_install": false,
                ])
            case "chat.postMessage":
                guard let channel = text("channel") else { return Self.error("channel_not_found") }
                guard let body = text("text") else { return Self.error("no_text") }
                guard body.utf16.count <= 40_000 else { return Self.error("msg_too_long") }
                state.clock += 1
                let ts = "1700000000.\(String(format: "%06d", state.clock))"
                let thread = text("thread_ts")
                state.messages.append(Message(channel: channel, ts: ts, threadTS: thread, text: body, edits: 0))
                var message: [String: Any] = ["type": "message", "text": body, "user": botUserID, "bot_id": "B0SWIFTBOT", "ts": ts, "team": teamID]
                if let thread { message["thread_ts"] = thread }
                return FakePlatformCall.json(["ok": true, "channel": channel, "ts": ts, "message": message])
            case "chat.update":
                guard let channel = text("channel") else { return Self.error("channel_not_found") }
                guard let ts = text("ts"), let index = state.messages.firstIndex(where: { $0.channel == channel && $0.ts == ts }) else {
                    return Self.error("message_not_found")
                }
                guard let body = text("text") else { return Self.error("no_text") }
                guard body.utf16.count <= 40_000 else { return Self.error("msg_too_long") }
                state.messages[index].text = body
                state.messages[index].edits += 1
                return FakePlatformCall.json(["ok": true, "channel": channel, "ts": ts, "text": body, "message": ["text": body, "user": botUserID]])
            case "files.getUploadURLExternal":
                // Slack takes this method's arguments only as form fields.
                let form = call.form
                guard let name = form["filename"], !name.isEmpty, let length = form["length"].flatMap({ Int($0) }), length > 0 else {
                    return Self.error("invalid_arguments")
                }
                let id = "F" + String(UUID().uuidString.prefix(10)).replacingOccurrences(of: "-", with: "").uppercased()
                state.uploads[id] = Upload(fileName: name, length: length)
                return FakePlatformCall.json(["ok": true, "upload_url": "http://\(host)/upload/v1/\(id)", "file_id": id])
            case "files.completeUploadExternal":
                // A form carries the list as JSON text, a JSON body as an array.
                var listed = parameters["files"]
                if let text = listed as? String { listed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
                guard let files = listed as? [[String: Any]], !files.isEmpty else { return Self.error("invalid_arguments") }
                var completed: [[String: Any]] = []
                for file in files {
                    guard let id = file["id"] as? String, let upload = state.uploads[id], let bytes = upload.bytes else { return Self.error("file_not_found") }
                    guard bytes.count == upload.length else { return Self.error("file_upload_size_mismatch") }
                    state.shared.append(
                        SharedFile(id: id, fileName: upload.fileName, title: file["title"] as? String, bytes: bytes, channel: text("channel_id"), threadTS: text("thread_ts")))
                    completed.append(["id": id, "title": file["title"] as? String ?? upload.fileName])
                }
                return FakePlatformCall.json(["ok": true, "files": completed])
            default:
                return Self.error("unknown_method")
            }
        }
    }

    /// A method's arguments: the JSON body's members, or the form fields.
    private static func parameters(_ call: FakePlatformCall) -> [String: Any] {
        if call.headers["content-type"]?.hasPrefix("application/json") == true { return call.json ?? [:] }
        return call.form
    }

    private static func error(_ code: String) -> Response {
        FakePlatformCall.json(["ok": false, "error": code])
    }

    // MARK: Socket Mode

    /// A Socket Mode URL good for one connection, as `apps.connections.open` hands them out (`host` is `127.0.0.1:<port>`).
    public func connectionURL(host: String) -> String {
        state.withLock { Self.issueTicket(in: &$0, host: host) }
    }

    private static func issueTicket(in state: inout State, host: String) -> String {
        let ticket = UUID().uuidString.lowercased()
        state.tickets.insert(ticket)
        return "ws://\(host)/link/?ticket=\(ticket)&app_id=A0SWIFTLET"
    }

    /// The connections open now, oldest first.
    public var openSockets: [Int] { state.withLock { $0.sockets.keys.sorted() } }

    /// How many connections were opened so far.
    public var socketsOpened: Int { state.withLock { $0.socketsOpened } }

    /// The envelope ids the app acknowledged, in order.
    public var acknowledged: [String] { state.withLock { $0.acknowledged } }

    /// Sends an `events_api` envelope around `payload` (an ``eventCallback(_:eventID:)``) on connection `socket`
    /// (the newest when nil); its envelope id, or nil when no connection is open.
    @discardableResult
    public func push(_ payload: [String: Any], on socket: Int? = nil, retryAttempt: Int = 0) -> String? {
        let envelopeID = UUID().uuidString.lowercased()
        let envelope: [String: Any] = [
            "envelope_id": envelopeID, "payload": payload, "type": "events_api", "accepts_response_payload": false, "retry_attempt": retryAttempt,
            "retry_reason": retryAttempt > 0 ? "timeout" : "",
        ]
        return send(.text(String(decoding: Self.encode(envelope), as: UTF8.self)), on: socket) ? envelopeID : nil
    }

    /// Sends a `disconnect` frame (`warning`, `refresh_requested`, `link_disabled`) on connection `socket` (the newest
    /// when nil); the test closes the connection later with ``drop(_:)``, as Slack does some seconds after.
    @discardableResult
    public func disconnect(reason: String, on socket: Int? = nil) -> Bool {
        let frame: [String: Any] = ["type": "disconnect", "reason": reason, "debug_info": ["host": "applink-fake-1"]]
        return send(.text(String(decoding: Self.encode(frame), as: UTF8.self)), on: socket)
    }

    /// Closes connection `socket` from Slack's side.
    public func drop(_ socket: Int) {
        _ = send(.close, on: socket)
    }

    private func send(_ outgoing: Outgoing, on socket: Int?) -> Bool {
        state.withLock { state in
            guard let id = socket ?? state.sockets.keys.max(), let connection = state.sockets[id] else { return false }
            connection.yield(outgoing)
            return true
        }
    }

    /// One Socket Mode connection: `hello`, then what the test sends, while acknowledgements are recorded.
    private func serveSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let (outgoing, feed) = AsyncStream.makeStream(of: Outgoing.self)
        let (id, count) = state.withLock { state in
            state.socketsOpened += 1
            state.sockets[state.socketsOpened] = feed
            return (state.socketsOpened, state.sockets.count)
        }
        defer { _ = state.withLock { $0.sockets.removeValue(forKey: id) } }
        let hello: [String: Any] = [
            "type": "hello", "num_connections": count, "debug_info": ["host": "applink-fake-1", "build_number": 1, "approximate_connection_time": 18060],
            "connection_info": ["app_id": "A0SWIFTLET"],
        ]
        try await outbound.write(.text(String(decoding: Self.encode(hello), as: UTF8.self)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message, let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                        let envelope = object["envelope_id"] as? String
                    else { continue }
                    self.state.withLock { $0.acknowledged.append(envelope) }
                }
            }
            group.addTask {
                for await item in outgoing {
                    switch item {
                    case .text(let text): try await outbound.write(.text(text))
                    case .close: return
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: Slack's side of the Events API

    /// The headers Slack signs a request with: `X-Slack-Request-Timestamp` and `X-Slack-Signature`
    /// (`v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret).
    public func signedHeaders(for body: Data, timestamp: Date = Date(), secret: String? = nil) -> [(String, String)] {
        let stamp = String(Int(timestamp.timeIntervalSince1970))
        let key = SymmetricKey(data: Data((secret ?? signingSecret).utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("v0:\(stamp):".utf8) + body, using: key)
        return [("Content-Type", "application/json"), ("X-Slack-Request-Timestamp", stamp), ("X-Slack-Signature", "v0=" + FakePlatformCall.hex(mac))]
    }

    /// An `event_callback` envelope around one event, for this team and bot.
    public func eventCallback(_ event: [String: Any], eventID: String = "Ev" + String(UUID().uuidString.prefix(10)).replacingOccurrences(of: "-", with: "")) -> [String: Any] {
        [
            "token": "deprecated-verification-token", "team_id": teamID, "api_app_id": "A0SWIFTLET", "event": event, "type": "event_callback", "event_id": eventID,
            "event_time": Int(Date().timeIntervalSince1970),
            "authorizations": [["enterprise_id": NSNull(), "team_id": teamID, "user_id": botUserID, "is_bot": true, "is_enterprise_install": false]],
            "is_ext_shared_channel": false,
        ]
    }

    /// A `message` event; `channelType` is `im`, `channel`, `group` or `mpim`.
    public static func message(
        channel: String, user: String, text: String, ts: String, channelType: String = "im", threadTS: String? = nil, subtype: String? = nil,
        botID: String? = nil, files: [[String: Any]] = []
    ) -> [String: Any] {
        var event: [String: Any] = [
            "type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts, "channel_type": channelType,
            "client_msg_id": UUID().uuidString.lowercased(), "team": "T0FAKE",
        ]
        if let threadTS { event["thread_ts"] = threadTS }
        if let subtype { event["subtype"] = subtype }
        if let botID { event["bot_id"] = botID }
        if !files.isEmpty {
            event["files"] = files
            event["upload"] = false
        }
        return event
    }

    /// An `app_mention` event (it carries no `channel_type`).
    public static func appMention(channel: String, user: String, text: String, ts: String, threadTS: String? = nil) -> [String: Any] {
        var event: [String: Any] = ["type": "app_mention", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts, "team": "T0FAKE"]
        if let threadTS { event["thread_ts"] = threadTS }
        return event
    }

    /// The `url_verification` request Slack sends when the Request URL is set.
    public static func urlVerification(challenge: String) -> [String: Any] {
        ["token": "deprecated-verification-token", "challenge": challenge, "type": "url_verification"]
    }

    public static func encode(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}
