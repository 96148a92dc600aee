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

    func connect(_ request: PluginWebSocketRequest, session: @escaping @Sendable (PluginWebSocketConnection) async throws -> Void) async throws
        -> PluginWebSocketClose?
    {
        let (host, port) = try await PluginEgress.admit(request.url, schemes: ["ws": 80, "wss": 443], kind: "a ws or wss URL", permissions: permissions)
        var headers = HTTPFields()
        for header in request.headers {
            guard let name = HTTPField.Name(header.name) else { throw PluginWebSocketError("'\(header.name)' is not a valid header name") }
            headers.append(HTTPField(name: name, value: header.value))
        }
        let ping = request.pingIntervalSeconds
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: request.maxMessageBytes, additionalHeaders: headers,
            autoPing: ping.isFinite && ping > 0 ? .enabled(timePeriod: .milliseconds(Int64(ping * 1000))) : .disabled)
        let asked = request.handshakeTimeoutSeconds.isFinite && request.handshakeTimeoutSeconds > 0 ? request.handshakeTimeoutSeconds : permissions.timeoutSeconds
        let deadline = min(asked, permissions.timeoutSeconds)
        let race = HandshakeRace()
        let (maxMessageBytes, url, logger) = (request.maxMessageBytes, request.url, self.logger)
        // Hummingbird's client cannot be cancelled while it waits for the upgrade answer, so the attempt runs on its
        // own and is abandoned when the deadline passes first: a server that never answers keeps its socket until it
        // closes it, but never holds up the plugin. An abandoned attempt that is upgraded after all closes at once.
        let attempt = Task {
            do {
                let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                    guard race.open() else { return }
                    try await Self.serve(inbound: inbound, outbound: outbound, maxMessageBytes: maxMessageBytes, session: session)
                }
                race.finish(.success(close.map { PluginWebSocketClose(code: Int(UInt16(webSocketErrorCode: $0.closeCode)), reason: $0.reason) }))
            } catch {
                race.finish(.failure(error))
            }
        }
        let timer = Task {
            try await Task.sleep(for: .milliseconds(Int64(deadline * 1000)))
            if race.abandon(PluginWebSocketError("the WebSocket handshake with \(host):\(port) did not finish within \(deadline.formatted()) s")) {
                attempt.cancel()
            }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await race.outcome()
        } onCancel: {
            // Once open, cancelling the attempt closes the connection and the session ends; before that, give up now.
            attempt.cancel()
            _ = race.abandon(CancellationError())
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

        /// Gives up on a connection that is not open yet; false when it is open (the deadline no longer applies).
        func abandon(_ error: any Error) -> Bool {
            let abandoned = state.withLock { state in
                guard state.phase == .connecting else { return false }
                state.phase = .abandoned
                return true
            }
            if abandoned { finish(.failure(error)) }
            return abandoned
        }

        /// The attempt's outcome; only the first one counts.
        func finish(_ result: Result<PluginWebSocketClose?, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<PluginWebSocketClose?, any Error>? in
                guard state.result == nil else { return nil }
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: result)
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
