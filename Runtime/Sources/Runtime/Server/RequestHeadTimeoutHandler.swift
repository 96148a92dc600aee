import NIOCore
import NIOHTTP1

/// Closes a connection whose first request head is not complete within `timeout`, with a `408` first.
///
/// A client that connects and sends nothing, or a head one byte at a time (slowloris), would otherwise
/// hold its socket forever: Hummingbird's idle timeout joins the pipeline only once a first head has
/// arrived and turned out not to be a WebSocket upgrade. This handler sits between the HTTP decoder and
/// the upgrade handler and leaves the pipeline at that first head; from then on the idle timeout covers
/// the body and the keep-alive, and a connection upgraded to WebSocket is not HTTP any more.
///
/// Concurrency: a channel handler, used on its channel's event loop only.
final class RequestHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private let body: String
    private var deadline: Scheduled<Void>?

    /// - Parameters:
    ///   - timeout: time from the connection's start to its first complete request head.
    ///   - timeoutDescription: the timeout as configured (`10s`), named in the 408's body.
    init(timeout: TimeAmount, timeoutDescription: String) {
        self.timeout = timeout
        self.body = "swiftlet: the request head did not arrive within gateway.header_timeout (\(timeoutDescription))\n"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The decoder only ever emits a head first; once it is here the job is done.
        deadline?.cancel()
        deadline = nil
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown waits for every connection to close; one without a request has nothing to finish.
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func start(context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { self.timedOut(context: context) }
    }

    private func timedOut(context: ChannelHandlerContext) {
        deadline = nil
        let head = HTTPResponseHead(
            version: .http1_1, status: .requestTimeout,
            headers: ["connection": "close", "content-type": "text/plain; charset=utf-8", "content-length": "\(body.utf8.count)"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
