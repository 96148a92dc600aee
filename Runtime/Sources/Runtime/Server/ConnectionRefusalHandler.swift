import NIOCore

/// The whole pipeline of a connection over ``ConnectionLimiter/cap``: a `503` with a one-line body, then close.
///
/// It answers when the client's first bytes arrive, or after `linger` if none do. Answering and closing at
/// once would leave the request unread, and closing a socket with unread input makes the kernel send a
/// reset, which can destroy the 503 before the client reads it. What the client sends is discarded.
///
/// Concurrency: a channel handler, used on its channel's event loop only.
final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let response: String
    private let linger: TimeAmount
    private var answered = false
    private var lingering: Scheduled<Void>?

    init(cap: Int, linger: TimeAmount = .milliseconds(500)) {
        self.response = Self.response(cap: cap)
        self.linger = linger
    }

    /// The raw HTTP/1.1 response: the client has not been parsed, so this is written as bytes.
    static func response(cap: Int) -> String {
        let body = "swiftlet: too many open connections (gateway.max_connections is \(cap)); try again shortly\n"
        return "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + "content-length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startLingering(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startLingering(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answer(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        lingering?.cancel()
        lingering = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func startLingering(context: ChannelHandlerContext) {
        guard lingering == nil, !answered else { return }
        lingering = context.eventLoop.assumeIsolated().scheduleTask(in: linger) { self.answer(context: context) }
    }

    private func answer(context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        lingering?.cancel()
        lingering = nil
        let buffer = context.channel.allocator.buffer(string: response)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
