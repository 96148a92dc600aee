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
                try await Connection.run(state: state, sessionName: sessionName, inbound: inbound, outbound: outbound)
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

    /// The web chat's origin for a socket's session name: the owner, one thread per named session.
    static func origin(sessionName: String) -> MessageOrigin {
        MessageOrigin(channel: "webchat", peer: "owner", thread: sessionName == "main" ? nil : sessionName)
    }

    /// One socket: a reader that answers requests in order and a writer that owns the socket's output,
    /// so replies pushed by the outbox and streamed text interleave with responses under one `seq`.
    enum Connection {
        enum Outgoing: Sendable {
            case frame(String)
            case event(String, JSONValue)
        }

        static func run(state: GatewayState, sessionName: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
            let origin = origin(sessionName: sessionName)
            let key = SessionKey.make(origin, scope: state.config.sessions.dmScope)
            let sessionID = try await state.pipeline.session(key: key, origin: origin)
            let sink = OutgoingQueue()
            let subscription = state.webChat.subscribe(session: sessionName) { event, data in sink.yield(.event(event, data)) }
            defer { state.webChat.unsubscribe(session: sessionName, id: subscription) }
            sink.yield(
                .event(
                    "hello",
                    .object([
                        "protocol": .number(Double(ControlProtocol.version)), "server": .string("swiftlet/\(SwiftletVersion.current)"),
                        "session_id": .string(sessionID), "session": .string(sessionName), "session_key": .string(key),
                        "agent": .string(state.config.agent.name), "models": .array(state.router.models.map { .string($0.description) }),
                    ])))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var sequence = 0
                    while let batch = await sink.next() {
                        for item in OutgoingQueue.coalesced(batch) {
                            switch item {
                            case .frame(let text):
                                try await outbound.write(.text(text))
                            case .event(let name, let data):
                                sequence += 1
                                try await outbound.write(.text(ControlProtocol.event(name, seq: sequence, data: data)))
                            }
                        }
                    }
                }
                group.addTask {
                    defer { sink.finish() }
                    let maxFrame = state.config.webchat.maxFrameSize
                    for try await message in inbound.messages(maxSize: maxFrame) {
                        switch message {
                        case .binary:
                            sink.yield(.frame(ControlProtocol.error(.init(id: nil, code: "unsupported_frame", message: "binary frames are not part of protocol v1; send JSON text"))))
                        case .text(let text):
                            sink.yield(.frame(await handle(text, state: state, sessionName: sessionName, sessionID: sessionID, origin: origin)))
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
                // The writer also ends when the reader's end finishes the queue, and may be seen first: the
                // reader's outcome is collected too, or an error it threw (such as swift-websocket's 1007
                // for text that is not UTF-8) would be dropped and the socket closed with 1000.
                try await group.waitForAll()
            }
        }

        static func handle(_ text: String, state: GatewayState, sessionName: String, sessionID: String, origin: MessageOrigin) async -> String {
            let limit = state.config.webchat.maxMessageSize
            guard text.utf8.count <= limit + 4096 else {
                return ControlProtocol.error(.init(id: nil, code: "message_too_large", message: "frame of \(text.utf8.count) bytes exceeds the limit of \(limit) bytes per message"))
            }
            switch ControlProtocol.parse(text) {
            case .failure(let failure):
                return ControlProtocol.error(failure)
            case .success(let request):
                do {
                    return ControlProtocol.response(id: request.id, result: try await serve(request, state: state, sessionName: sessionName, sessionID: sessionID, origin: origin))
                } catch let failure as ControlProtocol.Failure {
                    return ControlProtocol.error(failure)
                } catch {
                    state.logger.error("control request failed", metadata: ["method": "\(request.method.rawValue)", "error": "\(error)"])
                    return ControlProtocol.error(.init(id: request.id, code: "internal_error", message: "the request failed inside the gateway; it was logged and nothing was accepted"))
                }
            }
        }

        static func serve(_ request: ControlProtocol.Request, state: GatewayState, sessionName: String, sessionID: String, origin: MessageOrigin) async throws -> JSONValue {
            let config = state.config.webchat
            switch request.method {
            case .ping:
                return .object(["pong": .bool(true), "time": .string(Date().formatted(.iso8601))])
            case .chatHistory:
                let limit = request.params["limit"]?.intValue ?? config.historyLimit
                guard (1...config.historyLimit).contains(limit) else {
                    throw ControlProtocol.Failure(id: request.id, code: "invalid_params", message: "limit must be from 1 to \(config.historyLimit)")
                }
                // The transcript holds answered turns; messages still waiting for their turn come from the journal.
                // Read in this order, a turn that finishes between the two reads shows once (in the transcript).
                let pending = try await state.store.pendingJournal(sessionID: sessionID)
                let answered = try await state.store.messages(sessionID: sessionID, limit: limit)
                let stored = Set(answered.map(\.messageID))
                let waiting = pending.filter { !stored.contains($0.id) }.suffix(limit).map { entry in
                    var message = json(Agent.userRecord(entry))
                    if case .object(var object) = message {
                        object["pending"] = .bool(true)
                        message = .object(object)
                    }
                    return message
                }
                return .object(["messages": .array(Array((answered.map(json) + waiting).suffix(limit)))])
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
                let clientID = request.params["client_id"]?.stringValue
                let inbound = InboundMessage(origin: origin, sender: "owner", text: text, externalID: clientID.map { "\(sessionName):\($0)" }, replyTarget: sessionName)
                switch try await state.pipeline.submit(inbound) {
                case .accepted(let messageID, let sessionID):
                    return .object(["message_id": .string(messageID), "session_id": .string(sessionID), "duplicate": .bool(false)])
                case .duplicate(let messageID, let sessionID):
                    return .object(["message_id": .string(messageID), "session_id": .string(sessionID), "duplicate": .bool(true)])
                }
            }
        }

        static func json(_ message: MessageRecord) -> JSONValue {
            .object([
                "message_id": .string(message.messageID), "role": .string(message.role.rawValue), "author": .string(message.author),
                "text": .string(message.content), "created_at": .string(message.createdAt.formatted(.iso8601)),
            ])
        }
    }

    /// What one socket has to send, handed to its writer in batches.
    ///
    /// Under load the writer falls behind the model's token stream; it then takes everything queued at once,
    /// and consecutive `chat.delta` events of one reply become one frame instead of one frame per token.
    final class OutgoingQueue: Sendable {
        private struct State {
            var items: [Connection.Outgoing] = []
            var waiter: CheckedContinuation<[Connection.Outgoing]?, Never>?
            var finished = false
        }

        private let state = Mutex(State())

        func yield(_ item: Connection.Outgoing) {
            let waiter = state.withLock { state -> CheckedContinuation<[Connection.Outgoing]?, Never>? in
                guard !state.finished else { return nil }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter
                }
                state.items.append(item)
                return nil
            }
            waiter?.resume(returning: [item])
        }

        func finish() {
            let waiter = state.withLock { state in
                state.finished = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }

        /// Everything queued, waiting for at least one item; nil once finished and drained.
        func next() async -> [Connection.Outgoing]? {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [Connection.Outgoing]?? in
                    if !state.items.isEmpty {
                        defer { state.items.removeAll(keepingCapacity: true) }
                        return .some(state.items)
                    }
                    if state.finished { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }

        /// Merges runs of `chat.delta` for the same reply and attempt; everything else keeps its order.
        static func coalesced(_ items: [Connection.Outgoing]) -> [Connection.Outgoing] {
            guard items.count > 1 else { return items }
            var result: [Connection.Outgoing] = []
            result.reserveCapacity(items.count)
            for item in items {
                if case .event("chat.delta", let data) = item, case .event("chat.delta", let previous)? = result.last,
                    data["in_reply_to"] == previous["in_reply_to"], data["attempt"] == previous["attempt"],
                    let text = data["text"]?.stringValue, let earlier = previous["text"]?.stringValue, case .object(var merged) = previous
                {
                    merged["text"] = .string(earlier + text)
                    result[result.count - 1] = .event("chat.delta", .object(merged))
                } else {
                    result.append(item)
                }
            }
            return result
        }
    }
}
