import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The gateway's connections: Hummingbird's HTTP/1 channel with WebSocket upgrade, guarded against clients
/// that hold sockets without using them and against malformed WebSocket frames.
///
/// - A connection over the cap of ``ConnectionLimiter`` gets ``ConnectionRefusalHandler`` (a 503) instead of HTTP.
/// - Until the first request head is complete, ``RequestHeadTimeoutHandler`` bounds the wait (408, then close).
/// - After it, Hummingbird's own idle timeout (`HTTP1Channel.Configuration.idleTimeout`, set by ``Gateway``)
///   closes a connection that sends no request, or no more of a body, for that long. Hummingbird never adds
///   it to an upgraded connection, so WebSockets live on their own pings.
/// - Once upgraded, ``ClientFrameMaskHandler`` follows the frame decoder and fails unmasked frames with 1002;
///   text that is not UTF-8 is refused by swift-websocket itself (`validateUTF8`, close 1007).
///
/// Concurrency: `setup` runs on the new channel's event loop before it is registered; `handle` in the server's
/// task group, one task per connection.
struct GatewayServerChannel: ServerChildChannel {
    enum Value: ServerChildChannelValue {
        case served(HTTP1WebSocketUpgradeChannel.Value)
        /// Over the cap: the refusal handler answers and closes on its own.
        case refused(any Channel)

        var channel: any Channel {
            switch self {
            case .served(let value): value.channel
            case .refused(let channel): channel
            }
        }
    }

    let http: HTTP1WebSocketUpgradeChannel
    let limiter: ConnectionLimiter
    let headerTimeout: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard limiter.admit() else {
            let cap = limiter.cap
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ConnectionRefusalHandler(cap: cap))
                return .refused(channel)
            }
        }
        let limiter = self.limiter
        channel.closeFuture.whenComplete { _ in limiter.release() }
        let headerTimeout = self.headerTimeout
        return http.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try Self.guardPipeline(of: channel, headerTimeout: headerTimeout, logger: logger)
            return .served(value)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard case .served(let served) = value else { return }
        await http.handle(value: served, logger: logger)
    }

    /// Adds the header deadline in front of the upgrade handler, and the mask check once an upgrade completes.
    /// Must run on the channel's event loop, right after Hummingbird built the pipeline.
    private static func guardPipeline(of channel: any Channel, headerTimeout: Duration, logger: Logger) throws {
        let pipeline = channel.pipeline.syncOperations
        let upgrader = try pipeline.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
        try pipeline.addHandler(
            RequestHeadTimeoutHandler(timeout: TimeAmount(headerTimeout), timeoutDescription: ConfigValue.format(duration: headerTimeout)),
            position: .before(upgrader))
        // The upgrade handler completes this future after adding the frame decoder and before it replays the
        // bytes that arrived behind the upgrade request, so no frame passes the decoder before the check is in.
        upgrader.upgradeResultFuture.assumeIsolated().whenSuccess { result in
            guard case .websocket = result else { return }
            do {
                let decoder = try pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                try pipeline.addHandler(ClientFrameMaskHandler(), position: .after(decoder))
            } catch {
                // A WebSocket without the check would accept what RFC 6455 forbids: refuse it instead.
                logger.error("WebSocket closed: cannot add the frame mask check", metadata: ["error": "\(error)"])
                channel.close(promise: nil)
            }
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrade on ``GatewayServerChannel``: Hummingbird's
    /// `http1WebSocketUpgrade(webSocketRouter:configuration:)` with the gateway's guards.
    static func gateway(
        webSocketRouter: Router<GatewayRequestContext>, configuration: HTTP1WebSocketUpgradeChannel.Configuration, limiter: ConnectionLimiter,
        headerTimeout: Duration
    ) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            GatewayServerChannel(
                http: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                limiter: limiter, headerTimeout: headerTimeout)
        }
    }
}
