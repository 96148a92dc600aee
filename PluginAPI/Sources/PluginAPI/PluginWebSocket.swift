public import Foundation

/// WebSocket connections (`ws://`, `wss://`) to the hosts in the plugin's `permissions.network`, for platforms that
/// push events over a socket instead of calling a webhook (Slack Socket Mode and the like).
///
/// The host opens the connection, answers the server's pings, sends its own (a connection whose pongs stop is
/// closed, so a silently dropped link ends instead of hanging), and runs `session` for as long as the plugin wants
/// the connection:
///
/// ```swift
/// try await context.webSocket.connect(PluginWebSocketRequest(url: url)) { connection in
///     for try await message in connection.messages {
///         if case .text(let text) = message { try await connection.send(.text(ack(text))) }
///     }
/// }
/// ```
///
/// Redirects are not followed, and a host name that resolves to a private address is refused unless that address is
/// listed, as for ``PluginHTTPClient``.
public protocol PluginWebSocketClient: Sendable {
    /// Connects and runs `session` on the open connection.
    ///
    /// `messages` ends when the server closes the connection (or it is lost), and the connection is closed
    /// normally when `session` returns. Cancelling the calling task closes the connection too.
    /// - Returns: the close frame the server sent, when it sent one.
    /// - Throws: ``PluginAccessDenied`` for a host the entry does not list, ``PluginWebSocketError`` when the
    ///   handshake fails or takes longer than allowed, and whatever `session` throws.
    @discardableResult
    func connect(_ request: PluginWebSocketRequest, session: @escaping @Sendable (PluginWebSocketConnection) async throws -> Void) async throws
        -> PluginWebSocketClose?
}

public struct PluginWebSocketRequest: Sendable {
    public var url: String
    /// Sent with the upgrade request (`Authorization`, ...).
    public var headers: [(name: String, value: String)]
    /// Larger messages close the connection.
    public var maxMessageBytes: Int
    /// The host pings this often and closes a connection whose pong does not come back before the next ping; 0 turns
    /// this off.
    public var pingIntervalSeconds: Double
    /// TCP connect, TLS and the upgrade must finish within this; the entry's `timeout_seconds` bounds it too.
    public var handshakeTimeoutSeconds: Double

    public init(
        url: String, headers: [(name: String, value: String)] = [], maxMessageBytes: Int = 1 << 20, pingIntervalSeconds: Double = 30,
        handshakeTimeoutSeconds: Double = 15
    ) {
        self.url = url
        self.headers = headers
        self.maxMessageBytes = maxMessageBytes
        self.pingIntervalSeconds = pingIntervalSeconds
        self.handshakeTimeoutSeconds = handshakeTimeoutSeconds
    }
}

public enum PluginWebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary(Data)
}

/// An open connection, for the duration of a ``PluginWebSocketClient/connect(_:session:)`` session.
public struct PluginWebSocketConnection: Sendable {
    /// What the server sends, in order; ends when the connection closes.
    public let messages: AsyncThrowingStream<PluginWebSocketMessage, any Error>
    private let sender: @Sendable (PluginWebSocketMessage) async throws -> Void

    /// Host side: the connection's inbound messages and how to write to it.
    public init(messages: AsyncThrowingStream<PluginWebSocketMessage, any Error>, send: @escaping @Sendable (PluginWebSocketMessage) async throws -> Void) {
        self.messages = messages
        sender = send
    }

    /// Sends one message; safe to call from several tasks at once (messages are not interleaved).
    public func send(_ message: PluginWebSocketMessage) async throws {
        try await sender(message)
    }
}

/// The close frame a server ended the connection with.
public struct PluginWebSocketClose: Sendable, Equatable {
    /// The WebSocket close code (1000 normal, 1001 going away, ...).
    public var code: Int
    public var reason: String?

    public init(code: Int, reason: String?) {
        self.code = code
        self.reason = reason
    }
}

/// A connection that could not be made.
public struct PluginWebSocketError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The client of contexts that offer no WebSocket connections (isolated plugins, test contexts): every connection is
/// refused.
public struct RefusingWebSocketClient: PluginWebSocketClient {
    public init() {}

    public func connect(_ request: PluginWebSocketRequest, session: @escaping @Sendable (PluginWebSocketConnection) async throws -> Void) async throws
        -> PluginWebSocketClose?
    {
        throw PluginAccessDenied(permission: "network", subject: "\(request.url) (this context offers no WebSocket connections)")
    }
}
