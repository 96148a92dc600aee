public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// Per-request context: the caller's address and, after authentication, the control principal.
public struct GatewayRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let remoteAddress: SocketAddress?
    public var principal: ControlPrincipal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }

    /// The caller's IP address for the audit log.
    public var clientIP: String? { remoteAddress?.ipAddress }
}
