import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PluginAPI

extension GatewayRouter {
    /// The public routes platforms and other systems call: `/channels/<name>/webhook[/...]` (a channel plugin's
    /// webhook) and `/hooks/<name>` (a generic webhook channel). No control token: each authenticates its caller
    /// (a platform signature, the hook's HMAC or token), behind the per-IP rate limit.
    static func addChannelRoutes(to router: Router<GatewayRequestContext>, state: GatewayState) {
        let webhook: @Sendable (Request, GatewayRequestContext) async throws -> Response = { request, context in
            try checkIPLimit(state: state, context: context)
            let name = context.parameters.get("name") ?? ""
            let body = try await request.body.collect(upTo: state.config.gateway.maxBodySize)
            let prefix = "/channels/\(name)/webhook"
            let path = request.uri.path
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters where query[String(key)] == nil { query[String(key)] = String(value) }
            let incoming = ChannelWebhookRequest(
                method: request.method.rawValue, subpath: path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : "", query: query,
                headers: request.headers.map { ($0.name.rawName, $0.value) }, body: Data(body.readableBytesView), remoteAddress: context.clientIP)
            guard let answer = await state.channels.webhook(name, request: incoming) else {
                throw APIError(.notFound, code: "unknown_channel", message: "no channel named '\(name)' is running")
            }
            var headers = HTTPFields()
            for (field, value) in answer.headers {
                if let fieldName = HTTPField.Name(field) { headers.append(HTTPField(name: fieldName, value: value)) }
            }
            headers[.cacheControl] = "no-store"
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        for method in [HTTPRequest.Method.get, .post] {
            router.on("channels/:name/webhook", method: method, use: webhook)
            router.on("channels/:name/webhook/**", method: method, use: webhook)
        }

        router.post("hooks/:name") { request, context in
            try checkIPLimit(state: state, context: context)
            let name = context.parameters.get("name") ?? ""
            guard let hook = state.config.hooks[name], let sender = state.hooks.sender(name) else {
                throw APIError(.notFound, code: "unknown_hook", message: "no webhook channel named '\(name)' (set channels.\(name).hook.secret or hook.token)")
            }
            let body = Data(try await request.body.collect(upTo: state.config.gateway.maxBodySize).readableBytesView)
            if let failure = hookAuthFailure(hook, request, body: body) {
                state.logger.warning("webhook refused", metadata: ["hook": "\(name)", "reason": "\(failure.rawValue)", "ip": "\(context.clientIP ?? "?")"])
                throw APIError(.unauthorized, code: failure.rawValue, message: failure.message)
            }
            let message: HookMessage
            switch HookMessage.parse(body) {
            case .success(let parsed): message = parsed
            case .failure(let error): throw APIError(.badRequest, code: "invalid_message", message: error.message)
            }
            let target = "hook:" + UUID().uuidString.lowercased()
            let inbound = PluginAPI.InboundMessage(
                externalID: message.id, peer: message.group ?? message.sender, isGroup: message.group != nil, sender: message.sender, thread: message.thread,
                text: message.text, mentioned: message.mentioned, replyTarget: target)
            let (outcome, reply) = try await sender.receive(waitingUpTo: message.reply == .sync ? hook.replyTimeout : nil, target: target) {
                try await state.gate.receive(inbound, channel: name, http: nil)
            }
            switch outcome {
            case .accepted(let messageID, _):
                if let reply {
                    var answer: [String: Any] = ["status": "answered", "message_id": messageID, "kind": reply.kind.rawValue, "reply": reply.body]
                    // Answered together with others (sessions.queue collect or steer): the turn is named after the first.
                    if reply.messageID != messageID { answer["answered_by"] = reply.messageID }
                    return JSONBody.response(answer)
                }
                return JSONBody.response(
                    ["status": "queued", "message_id": messageID, "callback": !hook.callbackURL.isEmpty, "reply_url": "/hooks/\(name)/replies/\(messageID)"],
                    status: .accepted)
            case .duplicate(let messageID):
                var answer: [String: Any] = ["status": "duplicate", "message_id": messageID, "reply_url": "/hooks/\(name)/replies/\(messageID)"]
                if let earlier = try await state.store.outboxEntry(id: OutboxEntry.replyID(for: messageID)) {
                    answer["reply"] = earlier.body
                    answer["kind"] = earlier.kind.rawValue
                }
                return JSONBody.response(answer)
            case .turnedAway(let text, let reason):
                var answer: [String: Any] = ["status": "not_admitted", "reason": reason]
                if let text { answer["reply"] = text }
                return JSONBody.response(answer, status: .forbidden)
            case .limited(_, let scope, let retryAfter):
                throw APIError(
                    .tooManyRequests, code: "rate_limited", message: RateLimiter.notice(scope: scope, retryAfter: retryAfter),
                    headers: [.retryAfter: String(max(1, Int(retryAfter.rounded(.up))))])
            }
        }

        router.get("hooks/:name/replies/:id") { request, context in
            try checkIPLimit(state: state, context: context)
            let name = context.parameters.get("name") ?? ""
            let id = context.parameters.get("id") ?? ""
            guard let hook = state.config.hooks[name] else {
                throw APIError(.notFound, code: "unknown_hook", message: "no webhook channel named '\(name)'")
            }
            if let failure = hookAuthFailure(hook, request, body: Data()) {
                throw APIError(.unauthorized, code: failure.rawValue, message: failure.message)
            }
            guard let journal = try await state.store.journalEntry(id: id), journal.channel == name else {
                throw APIError(.notFound, code: "unknown_message", message: "no message \(id) on \(name)")
            }
            // A message answered together with others (sessions.queue collect or steer) shares their turn's reply.
            let turn = journal.answeredBy ?? id
            guard let reply = try await state.store.outboxEntry(id: OutboxEntry.replyID(for: turn)) else {
                return JSONBody.response(["status": journal.status == .pending ? "pending" : journal.status.rawValue, "message_id": id], status: .accepted)
            }
            var answer: [String: Any] = ["status": "answered", "message_id": id, "kind": reply.kind.rawValue, "reply": reply.body]
            if turn != id { answer["answered_by"] = turn }
            return JSONBody.response(answer)
        }
    }

    /// ``HookAuth/check(hook:signature:timestamp:authorization:body:now:)`` of a request's headers.
    static func hookAuthFailure(_ hook: GatewayConfig.Hook, _ request: Request, body: Data) -> HookAuth.Failure? {
        HookAuth.check(
            hook: hook, signature: request.headers[values: .init("X-Swiftlet-Signature")!].first,
            timestamp: request.headers[values: .init("X-Swiftlet-Timestamp")!].first, authorization: request.headers[.authorization], body: body)
    }

    /// The per-IP limit of the public routes: 429 with Retry-After.
    static func checkIPLimit(state: GatewayState, context: GatewayRequestContext) throws {
        let limits = state.config.limits
        guard limits.ipPerMinute > 0, let ip = context.clientIP, !limits.ipExempt.contains(ip) else { return }
        if case .limited(_, let retryAfter, _) = state.limiter.take([.init(scope: "ip", key: "ip:\(ip)", perMinute: limits.ipPerMinute)]) {
            let seconds = max(1, Int(retryAfter.rounded(.up)))
            throw APIError(
                .tooManyRequests, code: "rate_limited",
                message: "Too many requests from \(ip) (limits.ip_per_minute is \(limits.ipPerMinute)); please retry in \(seconds) s.",
                headers: [.retryAfter: String(seconds)])
        }
    }
}
