import NIOCore
import NIOWebSocket

/// Fails a WebSocket connection on the first unmasked frame from the client: a close frame with 1002
/// (protocol error), then the socket is closed, and neither that frame nor any later one is passed on.
///
/// RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not masked". Neither
/// NIOWebSocket's frame decoder nor swift-websocket checks this, so ``GatewayServerChannel`` places this
/// handler right after the frame decoder when a connection is upgraded.
///
/// Concurrency: a channel handler, used on its channel's event loop only.
final class ClientFrameMaskHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        guard unwrapInboundIn(data).maskKey == nil else {
            context.fireChannelRead(data)
            return
        }
        failed = true
        var code = context.channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .protocolError)
        // A server never masks its own frames (RFC 6455 §5.1).
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
        context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
