import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import PluginAPI
import Synchronization

/// ``PluginWebSocketClient`` limited to the entry's `permissions.network`, on Hummingbird's WebSocket client.
///
/// The handshake (TCP, TLS, upgrade) must finish within the request's `handshakeTimeoutSeconds`, and within the
/// entry's `timeout_seconds`; an open connection then lasts as long as the plugin's session.
struct PluginWebSocket: PluginWebSocketClient {
    let permissions: PermissionSet
    let logger: Logger
    /// Handshakes given up on whose sockets the server still holds, across this plugin's connections.
    let abandoned = AbandonedHandshakes()

    /// At most this many abandoned handshakes may hang at once; more refuse new connections until some end.
    static let abandonedLimit = 4

    final class AbandonedHandshakes: Sendable {
        let count = Atomic<Int>(0)
    }

    /// The URL the client connects to, rebuilt from the parts the network check saw: the client parses URLs its own
    /// way, so a raw `ws://allowed@elsewhere/` or the like must never reach it.
    static func checkedURL(_ text: String, host: String, port: Int) throws -> String {
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased() else { throw ToolFailure("not a ws or wss URL: \(text)") }
        guard parts.user == nil, parts.password == nil else { throw ToolFailure("a WebSocket URL may not carry a user or password: \(text)") }
        guard !host.contains(":") else { throw ToolFailure("IPv6 addresses are not supported in WebSocket URLs: \(text)") }
        let path = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        return "\(scheme)://\(host):\(port)\(path)" + (parts.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    func connect(_ request: PluginWebSocketRequest, session: @escaping @Sendable (PluginWebSocketConnection) async throws -> Void) async throws
        -> PluginWebSocketClose?
    {
        // The request's own faults first: the network check may ask DNS.
        guard (1...(64 << 20)).contains(request.maxMessageBytes) else { throw PluginWebSocketError("maxMessageBytes must be between 1 and 64 MiB") }
        var headers = HTTPFields()
        for header in request.headers {
            guard let name = HTTPField.Name(header.name) else { throw PluginWebSocketError("'\(header.name)' is not a valid header name") }
            headers.append(HTTPField(name: name, value: header.value))
        }
        guard abandoned.count.load(ordering: .relaxed) < Self.abandonedLimit else {
            throw PluginWebSocketError("\(Self.abandonedLimit) earlier handshakes still hang unanswered; no new WebSocket connection until they end")
        }
        let (host, port) = try await PluginEgress.admit(request.url, schemes: ["ws": 80, "wss": 443], kind: "a ws or wss URL", permissions: permissions)
        let url = try Self.checkedURL(request.url, host: host, port: port)
        let ping = min(request.pingIntervalSeconds, 3600)
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: request.maxMessageBytes, additionalHeaders: headers,
            autoPing: ping.isFinite && ping > 0 ? .enabled(timePeriod: .milliseconds(Int64(ping * 1000))) : .disabled)
        let asked = request.handshakeTimeoutSeconds.isFinite && request.handshakeTimeoutSeconds > 0 ? request.handshakeTimeoutSeconds : permissions.timeoutSeconds
        let deadline = min(asked, permissions.timeoutSeconds)
        let race = HandshakeRace()
        let (maxMessageBytes, logger, abandoned) = (request.maxMessageBytes, self.logger, self.abandoned)
        // Hummingbird's client cannot be cancelled while it waits for the upgrade answer, so the attempt runs on its
        // own and is abandoned when the deadline passes first: a server that never answers keeps its socket until it
        // closes it (counted, and capped by `abandonedLimit`), but never holds up the plugin. An abandoned attempt
        // that is upgraded after all closes at once. Detached: the connection inherits nothing from the caller's
        // request (graceful-shutdown handlers included); only the caller's cancellation ends it.
        let attempt = Task.detached {
            let result: Result<PluginWebSocketClose?, any Error>
            do {
                let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                    guard race.open() else { return }
                    try await Self.serve(inbound: inbound, outbound: outbound, maxMessageBytes: maxMessageBytes, session: session)
                }
                result = .success(close.map { PluginWebSocketClose(code: Int(UInt16(webSocketErrorCode: $0.closeCode)), reason: $0.reason) })
            } catch {
                result = .failure(error)
            }
            race.attemptEnded(result, counting: abandoned)
        }
        let timer = Task {
            try await Task.sleep(for: .milliseconds(Int64(deadline * 1000)))
            if race.abandon(PluginWebSocketError("the WebSocket handshake with \(host):\(port) did not finish within \(deadline.formatted()) s"), counting: abandoned) {
                attempt.cancel()
            }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await race.outcome()
        } onCancel: {
            // Once open, cancelling the attempt closes the connection and the session ends; before that, give up now.
            attempt.cancel()
            _ = race.abandon(CancellationError(), counting: abandoned)
        }
    }

    /// Which comes first for one connection attempt: the upgrade, or the deadline (or the caller's cancellation).
    private final class HandshakeRace: Sendable {
        private enum Phase {
            case connecting
            case open
            case abandoned
        }

        private struct State {
            var phase = Phase.connecting
            var result: Result<PluginWebSocketClose?, any Error>?
            var waiter: CheckedContinuation<PluginWebSocketClose?, any Error>?
        }

        private let state = Mutex(State())

        /// The upgrade succeeded; false when the attempt was already abandoned.
        func open() -> Bool {
            state.withLock { state in
                guard state.phase == .connecting else { return false }
                state.phase = .open
                return true
            }
        }

        /// Gives up on a connection that is not open yet; false when it is open (the deadline no longer applies) or
        /// has already ended. An abandoned attempt counts in `counting` until it ends.
        func abandon(_ error: any Error, counting: AbandonedHandshakes) -> Bool {
            let (abandoned, waiter) = state.withLock { state -> (Bool, CheckedContinuation<PluginWebSocketClose?, any Error>?) in
                guard state.phase == .connecting, state.result == nil else { return (false, nil) }
                state.phase = .abandoned
                counting.count.add(1, ordering: .relaxed)
                return (true, Self.settle(&state, .failure(error)))
            }
            waiter?.resume(throwing: error)
            return abandoned
        }

        /// The attempt's own end: its outcome counts unless it was given up on first, and an abandoned attempt stops
        /// counting.
        func attemptEnded(_ result: Result<PluginWebSocketClose?, any Error>, counting: AbandonedHandshakes) {
            let waiter = state.withLock { state in
                if state.phase == .abandoned { counting.count.subtract(1, ordering: .relaxed) }
                return Self.settle(&state, result)
            }
            waiter?.resume(with: result)
        }

        /// Records the first outcome; the waiter to resume with it, if one waits.
        private static func settle(_ state: inout State, _ result: Result<PluginWebSocketClose?, any Error>) -> CheckedContinuation<PluginWebSocketClose?, any Error>? {
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }

        func outcome() async throws -> PluginWebSocketClose? {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<PluginWebSocketClose?, any Error>? in
                    if state.result == nil { state.waiter = continuation }
                    return state.result
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }

    /// Runs the plugin's session on an open connection: inbound messages are read by a child task into the session's
    /// stream, so the session can send while it waits for the next message.
    private static func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, maxMessageBytes: Int,
        session: @escaping @Sendable (PluginWebSocketConnection) async throws -> Void
    ) async throws {
        let (messages, continuation) = AsyncThrowingStream.makeStream(of: PluginWebSocketMessage.self)
        let connection = PluginWebSocketConnection(messages: messages) { message in
            switch message {
            case .text(let text): try await outbound.write(.text(text))
            case .binary(let data): try await outbound.write(.binary(ByteBuffer(bytes: data)))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: maxMessageBytes) {
                        switch message {
                        case .text(let text): continuation.yield(.text(text))
                        case .binary(let buffer): continuation.yield(.binary(Data(buffer.readableBytesView)))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            defer { continuation.finish() }
            try await session(connection)
            group.cancelAll()
        }
    }
}
