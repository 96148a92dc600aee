import AsyncHTTPClient
import Crypto
public import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PluginAPI
import Synchronization

/// How a webhook caller proves who it is: pure checks of one request's headers against `channels.<name>.hook`.
public enum HookAuth {
    public enum Failure: String, Error, Sendable, Equatable {
        case missing = "auth_missing"
        case signatureInvalid = "signature_invalid"
        case signatureStale = "signature_stale"
        case tokenInvalid = "token_invalid"

        public var message: String {
            switch self {
            case .missing: "send X-Swiftlet-Timestamp and X-Swiftlet-Signature (hook.secret) or Authorization: Bearer (hook.token)"
            case .signatureInvalid: "X-Swiftlet-Signature does not match the body"
            case .signatureStale: "X-Swiftlet-Timestamp is more than 5 minutes away from the gateway's clock"
            case .tokenInvalid: "the bearer token is not this hook's token"
            }
        }
    }

    /// Accepted clock difference between the caller and the gateway.
    public static let window: Double = 300

    /// `sha256=` + hex HMAC-SHA256 of `timestamp + "." + body` under `secret`.
    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        var message = Data((timestamp + ".").utf8)
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a request: with a secret configured a valid, fresh signature passes; with a token configured the right
    /// bearer token passes (either passes when both are configured).
    public static func check(
        hook: GatewayConfig.Hook, signature: String?, timestamp: String?, authorization: String?, body: Data, now: Date = Date()
    ) -> Failure? {
        var failure = Failure.missing
        if !hook.secret.isEmpty, let signature, let timestamp {
            guard let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= window else { return .signatureStale }
            if ConstantTime.equal(signature.lowercased(), Self.signature(secret: hook.secret, timestamp: timestamp, body: body)) { return nil }
            failure = .signatureInvalid
        }
        if !hook.token.isEmpty, let authorization {
            let given = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : authorization
            if ConstantTime.equal(given, hook.token) { return nil }
            if failure == .missing { failure = .tokenInvalid }
        }
        return failure
    }
}

/// What a webhook caller sends: `{"sender": "...", "text": "...", "id": "...", "reply": "sync"|"callback", "group":
/// "...", "mentioned": true, "thread": "..."}`.
public struct HookMessage: Sendable, Equatable {
    public enum ReplyMode: String, Sendable { case sync, callback }

    public var sender: String
    public var text: String
    public var id: String?
    public var reply: ReplyMode
    public var group: String?
    public var mentioned: Bool
    public var thread: String?

    /// Parses a body; the error says what is wrong for a 400.
    public static func parse(_ body: Data) -> Result<HookMessage, ParseError> {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return .failure(ParseError(message: "the body is not a JSON object"))
        }
        guard let sender = object["sender"] as? String, !sender.isEmpty, sender.utf8.count <= 256 else {
            return .failure(ParseError(message: "\"sender\" must be a string of 1 to 256 bytes"))
        }
        guard let text = object["text"] as? String, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return .failure(ParseError(message: "\"text\" must be a non-empty string"))
        }
        if let id = object["id"], !(id is String) { return .failure(ParseError(message: "\"id\" must be a string")) }
        let mode = object["reply"] as? String ?? "sync"
        guard let reply = ReplyMode(rawValue: mode) else { return .failure(ParseError(message: "\"reply\" must be \"sync\" or \"callback\"")) }
        let id = (object["id"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if let id, id.utf8.count > 256 { return .failure(ParseError(message: "\"id\" must be at most 256 bytes")) }
        return .success(
            HookMessage(
                sender: sender, text: text, id: id, reply: reply, group: object["group"] as? String, mentioned: object["mentioned"] as? Bool ?? false,
                thread: object["thread"] as? String))
    }

    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
    }
}

/// The sending half of one webhook channel: hands a reply to the request waiting for it, or POSTs it to the
/// callback URL (signed like requests), or keeps it for `GET /hooks/<name>/replies/<message_id>`.
final class HookSender: ChannelSender {
    let channel: String
    private let client: HTTPClient
    private let configuration: @Sendable () -> GatewayConfig.Hook?
    private let waiters = Mutex<[String: AsyncStream<OutboxEntry>.Continuation]>([:])

    init(channel: String, client: HTTPClient, configuration: @escaping @Sendable () -> GatewayConfig.Hook?) {
        self.channel = channel
        self.client = client
        self.configuration = configuration
    }

    /// Runs `submit` (the gate) and, when `timeout` is given and the message was accepted, waits that long for its
    /// reply, with a waiter registered under `target` before the message can be answered. The reply is nil when it
    /// did not come in time (it then goes to the callback URL).
    func receive(
        waitingUpTo timeout: Duration?, target: String, submit: () async throws -> ChannelGate.Outcome
    ) async throws -> (ChannelGate.Outcome, OutboxEntry?) {
        guard let timeout else { return (try await submit(), nil) }
        let (replies, continuation) = AsyncStream<OutboxEntry>.makeStream(bufferingPolicy: .bufferingNewest(1))
        waiters.withLock { $0[target] = continuation }
        defer {
            waiters.withLock { $0[target] = nil }
            continuation.finish()
        }
        let outcome = try await submit()
        guard case .accepted = outcome else { return (outcome, nil) }
        let reply = await withTaskGroup(of: OutboxEntry?.self) { group in
            group.addTask {
                for await reply in replies { return reply }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return (outcome, reply)
    }

    /// Lets every request waiting for its reply go: no turn answers anything more in this run (a shutdown), so they
    /// answer `queued`, and the reply comes with the next start (callback, or `GET /hooks/<name>/replies/<id>`).
    func releaseWaiters() {
        let released = waiters.withLock { waiters in
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for waiter in released { waiter.finish() }
    }

    func deliver(_ entry: OutboxEntry) async throws {
        // A shared turn's reply also answers the requests waiting for the other messages it answered.
        for target in ReplyMeta(jsonText: entry.meta).alsoTargets {
            if let waiter = waiters.withLock({ $0.removeValue(forKey: target) }) {
                waiter.yield(entry)
                waiter.finish()
            }
        }
        if let waiter = waiters.withLock({ $0.removeValue(forKey: entry.target) }) {
            waiter.yield(entry)
            waiter.finish()
            return
        }
        guard let hook = configuration(), !hook.callbackURL.isEmpty else {
            // Nobody waits and there is no callback: the reply stays readable at /hooks/<name>/replies/<message_id>.
            return
        }
        let body = JSONBody.encode([
            "message_id": entry.messageID, "reply": entry.body, "kind": entry.kind.rawValue, "channel": channel,
        ])
        var request = HTTPClientRequest(url: hook.callbackURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: entry.id)
        if !hook.secret.isEmpty {
            let timestamp = String(Int(Date().timeIntervalSince1970))
            request.headers.add(name: "X-Swiftlet-Timestamp", value: timestamp)
            request.headers.add(name: "X-Swiftlet-Signature", value: HookAuth.signature(secret: hook.secret, timestamp: timestamp, body: body))
        } else if !hook.token.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(hook.token)")
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try? await response.body.collect(upTo: 64 << 10)
        let status = Int(response.status.code)
        switch status {
        case 200..<300: return
        case 429:
            let wait = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 30
            throw DeliveryDeferred("the callback answered 429", retryAfter: wait)
        case 408, 500...: throw DeliveryFailed("the callback answered HTTP \(status)")
        default: throw PermanentDeliveryError("the callback answered HTTP \(status); not retried")
        }
    }
}

/// A delivery that failed and may work when tried again.
struct DeliveryFailed: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The webhook channels of the configuration, each with its sender registered in the outbox (so replies left
/// pending by a restart go out), and the HTTP client their callbacks use.
public final class HookChannels: Sendable {
    private let pipeline: MessagePipeline
    private let configuration: @Sendable () -> GatewayConfig
    private let client: HTTPClient
    private let senders = Mutex<[String: HookSender]>([:])

    init(pipeline: MessagePipeline, configuration: @escaping @Sendable () -> GatewayConfig) {
        self.pipeline = pipeline
        self.configuration = configuration
        var settings = HTTPClient.Configuration()
        settings.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
    }

    /// The sender of hook `name` (registered on first use); nil when the configuration has no such hook.
    func sender(_ name: String) -> HookSender? {
        guard configuration().hooks[name] != nil else { return nil }
        return senders.withLock { senders in
            if let known = senders[name] { return known }
            let configuration = self.configuration
            let sender = HookSender(channel: name, client: client, configuration: { configuration().hooks[name] })
            senders[name] = sender
            pipeline.register(sender)
            return sender
        }
    }

    /// Registers every configured hook (at start and after a configuration reload).
    func registerConfigured() {
        for name in configuration().hooks.keys { _ = sender(name) }
    }

    /// ``HookSender/releaseWaiters()`` for every hook.
    func releaseWaiters() {
        for sender in senders.withLock({ Array($0.values) }) { sender.releaseWaiters() }
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
