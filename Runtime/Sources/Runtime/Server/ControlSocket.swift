import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization

/// The control WebSocket at `/ws`: authenticated on upgrade, then ``ControlProtocol`` frames.
///
/// The web chat uses it to send messages and read the transcript of its session. A client names its
/// session with `?session=ID` (letters, digits, `-` and `_`, up to 64); the default is `main`.
enum ControlSocket {
    static func addRoute(to router: Router<GatewayRequestContext>, state: GatewayState) {
        router.ws(
            "ws",
            shouldUpgrade: { request, context in
                // Only a cookie rides along on its own; a client that sends Authorization chose to.
                if request.headers[.authorization] == nil {
                    do {
                        try checkOrigin(request)
                    } catch {
                        await state.audit(
                            AuditEvent(
                                eventType: "auth.denied", ipAddress: context.clientIP, userAgent: request.headers[.userAgent],
                                payload: ["reason": "origin_refused", "origin": request.headers[.origin] ?? "", "path": request.uri.path]))
                        throw error
                    }
                }
                let principal = try await state.authenticate(request, context: context)
                let sessionName = request.uri.queryParameters.get("session") ?? "main"
                guard isValidSessionName(sessionName) else {
                    throw APIError(.badRequest, code: "invalid_session", message: "session must be 1 to 64 letters, digits, '-' or '_'")
                }
                await state.audit(
                    AuditEvent(eventType: "control.socket.opened", userID: principal.id, ipAddress: context.clientIP, userAgent: request.headers[.userAgent], payload: ["session": sessionName]))
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, context in
                let sessionName = context.request.uri.queryParameters.get("session") ?? "main"
                state.openSockets.add(1, ordering: .relaxed)
                defer { state.openSockets.subtract(1, ordering: .relaxed) }
                var connection = Connection(state: state, sessionName: sessionName, outbound: outbound)
                try await connection.run(inbound: inbound)
            })
    }

    static func isValidSessionName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// Browsers send `Origin` on WebSocket upgrades and the session cookie rides along; a page on another
    /// origin (another site, or another port of this host) must not drive the gateway with the user's cookie.
    static func checkOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard let originHost = URL(string: origin)?.host, !host.isEmpty else {
            throw APIError(.forbidden, code: "origin_refused", message: "cross-origin WebSocket refused")
        }
        let originAuthority = URL(string: origin).map { url in url.port.map { "\(originHost):\($0)" } ?? originHost } ?? originHost
        guard originAuthority == host else {
            throw APIError(.forbidden, code: "origin_refused", message: "cross-origin WebSocket refused: \(origin) is not \(host)")
        }
    }

    /// One socket: reads requests in order, answers each, and numbers its events.
    struct Connection {
        let state: GatewayState
        let sessionName: String
        let outbound: WebSocketOutboundWriter
        private let responder = BuiltinResponder()
        private var sequence = 0
        private var sessionID: String?

        init(state: GatewayState, sessionName: String, outbound: WebSocketOutboundWriter) {
            self.state = state
            self.sessionName = sessionName
            self.outbound = outbound
        }

        mutating func run(inbound: WebSocketInboundStream) async throws {
            let session = try await state.store.session(key: "webchat:\(sessionName)", channel: "webchat", peer: "owner")
            sessionID = session.id
            try await sendEvent(
                "hello",
                data: .object([
                    "protocol": .number(Double(ControlProtocol.version)), "server": .string("swiftlet/\(SwiftletVersion.current)"),
                    "session_id": .string(session.id), "session": .string(sessionName), "responder": .string(BuiltinResponder.author),
                ]))
            let maxFrame = state.config.webchat.maxFrameSize
            for try await message in inbound.messages(maxSize: maxFrame) {
                switch message {
                case .binary:
                    try await send(ControlProtocol.error(.init(id: nil, code: "unsupported_frame", message: "binary frames are not part of protocol v1; send JSON text")))
                case .text(let text):
                    try await handle(text)
                }
            }
        }

        private mutating func handle(_ text: String) async throws {
            let limit = state.config.webchat.maxMessageSize
            guard text.utf8.count <= limit + 4096 else {
                try await send(ControlProtocol.error(.init(id: nil, code: "message_too_large", message: "frame of \(text.utf8.count) bytes exceeds the limit of \(limit) bytes per message")))
                return
            }
            switch ControlProtocol.parse(text) {
            case .failure(let failure):
                try await send(ControlProtocol.error(failure))
            case .success(let request):
                do {
                    let result = try await serve(request)
                    try await send(ControlProtocol.response(id: request.id, result: result.result))
                    for event in result.events { try await sendEvent(event.name, data: event.data) }
                } catch let failure as ControlProtocol.Failure {
                    try await send(ControlProtocol.error(failure))
                } catch {
                    state.logger.error("control request failed", metadata: ["method": "\(request.method.rawValue)", "error": "\(error)"])
                    try await send(ControlProtocol.error(.init(id: request.id, code: "internal_error", message: "the request failed inside the gateway; it was logged")))
                }
            }
        }

        private func serve(_ request: ControlProtocol.Request) async throws -> (result: JSONValue, events: [(name: String, data: JSONValue)]) {
            guard let sessionID else { throw ControlProtocol.Failure(id: request.id, code: "internal_error", message: "no session") }
            let config = state.config.webchat
            switch request.method {
            case .ping:
                return (.object(["pong": .bool(true), "time": .string(Date().formatted(.iso8601))]), [])
            case .chatHistory:
                let limit = request.params["limit"]?.intValue ?? config.historyLimit
                guard (1...config.historyLimit).contains(limit) else {
                    throw ControlProtocol.Failure(id: request.id, code: "invalid_params", message: "limit must be from 1 to \(config.historyLimit)")
                }
                let messages = try await state.store.messages(sessionID: sessionID, limit: limit)
                return (.object(["messages": .array(messages.map(Self.json))]), [])
            case .chatSend:
                guard config.enabled else {
                    throw ControlProtocol.Failure(id: request.id, code: "channel_disabled", message: "the web chat is disabled (channels.webchat.enabled)")
                }
                guard let text = request.params["text"]?.stringValue, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw ControlProtocol.Failure(id: request.id, code: "invalid_params", message: "chat.send needs a non-empty string \"text\"")
                }
                guard text.utf8.count <= config.maxMessageSize else {
                    throw ControlProtocol.Failure(
                        id: request.id, code: "message_too_large", message: "message of \(text.utf8.count) bytes exceeds channels.webchat.max_message_size (\(config.maxMessageSize))")
                }
                let inbound = try await state.store.appendMessage(
                    MessageRecord(messageID: UUID().uuidString.lowercased(), sessionID: sessionID, role: .user, author: "owner", content: text))
                let turn = try await state.store.countMessages(sessionID: sessionID, role: .user)
                let reply = try await state.store.appendMessage(
                    MessageRecord(messageID: UUID().uuidString.lowercased(), sessionID: sessionID, role: .assistant, author: BuiltinResponder.author, content: responder.reply(to: text, turn: turn)))
                var replyData = Self.json(reply)
                if case .object(var object) = replyData {
                    object["in_reply_to"] = .string(inbound.messageID)
                    replyData = .object(object)
                }
                return (.object(["message_id": .string(inbound.messageID), "session_id": .string(sessionID)]), [("chat.message", replyData)])
            }
        }

        static func json(_ message: MessageRecord) -> JSONValue {
            .object([
                "message_id": .string(message.messageID), "role": .string(message.role.rawValue), "author": .string(message.author),
                "text": .string(message.content), "created_at": .string(message.createdAt.formatted(.iso8601)),
            ])
        }

        private mutating func sendEvent(_ name: String, data: JSONValue) async throws {
            sequence += 1
            try await send(ControlProtocol.event(name, seq: sequence, data: data))
        }

        private func send(_ text: String) async throws {
            try await outbound.write(.text(text))
        }
    }
}
