import NIOCore
import NIOPosix
import Synchronization

/// A plain TCP connection to a test gateway that sends exactly the bytes a test gives it (a partial HTTP head,
/// a stalled chunked body, hand-made WebSocket frames) and keeps everything it receives.
///
/// Waits are events with a bound: ``waitUntilClosed(within:)`` and ``waitForReceived(within:until:)`` return as
/// soon as the server closes or sends what the predicate wants, and false when the bound passes first.
final class RawConnection: Sendable {
    let channel: any Channel
    private let collector: NIOLoopBound<Collector>
    /// Bytes of ``received()`` already returned by ``nextResponse(within:)``.
    private let consumed = Mutex(0)

    private init(channel: any Channel, collector: NIOLoopBound<Collector>) {
        self.channel = channel
        self.collector = collector
    }

    static func open(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let collector = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: Collector.self), eventLoop: channel.eventLoop)
        }.get()
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async {
        try? await channel.close()
    }

    /// Everything received so far.
    func received() async -> [UInt8] {
        let collector = self.collector
        return (try? await channel.eventLoop.submit { collector.value.bytes }.get()) ?? []
    }

    /// When the connection ended, as the client's event loop saw it; nil while it is open.
    func closedAt() async -> ContinuousClock.Instant? {
        let collector = self.collector
        return try? await channel.eventLoop.submit { collector.value.closedAt }.get()
    }

    func receivedText() async -> String {
        String(decoding: await received(), as: UTF8.self)
    }

    /// True once the server has closed the connection (end of stream or reset), false if `timeout` passes first.
    func waitUntilClosed(within timeout: Duration) async -> Bool {
        await wait(within: timeout) { _, closed in closed }
    }

    /// True once the bytes received satisfy `predicate`, false if `timeout` passes or the connection closes first.
    func waitForReceived(within timeout: Duration, until predicate: @escaping @Sendable ([UInt8]) -> Bool) async -> Bool {
        guard await wait(within: timeout, until: { bytes, closed in predicate(bytes) || closed }) else { return false }
        return predicate(await received())
    }

    /// The next complete HTTP response after those already returned, or nil if none completes within `timeout`.
    func nextResponse(within timeout: Duration) async -> RawHTTPResponse? {
        let offset = consumed.withLock { $0 }
        guard await waitForReceived(within: timeout, until: { RawHTTPResponse.parse($0.dropFirst(offset)) != nil }) else { return nil }
        guard let (response, length) = RawHTTPResponse.parse(await received().dropFirst(offset)) else { return nil }
        consumed.withLock { $0 = offset + length }
        return response
    }

    private func wait(within timeout: Duration, until condition: @escaping @Sendable ([UInt8], Bool) -> Bool) async -> Bool {
        let collector = self.collector
        let eventLoop = channel.eventLoop
        let future = eventLoop.flatSubmit { collector.value.wait(until: condition, within: TimeAmount(timeout), on: eventLoop) }
        return (try? await future.get()) ?? false
    }

    /// Keeps the bytes and the end of the connection, and wakes the waits they satisfy. Event loop only.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private struct Waiter {
            let condition: @Sendable ([UInt8], Bool) -> Bool
            let promise: EventLoopPromise<Bool>
            let bound: Scheduled<Void>
        }

        private(set) var bytes: [UInt8] = []
        private(set) var closedAt: ContinuousClock.Instant?
        private var closed: Bool { closedAt != nil }
        private var waiters: [Int: Waiter] = [:]
        private var nextWaiter = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            bytes += unwrapInboundIn(data).readableBytesView
            wake()
        }

        func channelInactive(context: ChannelHandlerContext) {
            closedAt = .now
            wake()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset from the server is also the end of the connection.
            context.close(promise: nil)
        }

        func wait(
            until condition: @escaping @Sendable ([UInt8], Bool) -> Bool, within timeout: TimeAmount, on eventLoop: any EventLoop
        ) -> EventLoopFuture<Bool> {
            if condition(bytes, closed) { return eventLoop.makeSucceededFuture(true) }
            let id = nextWaiter
            nextWaiter += 1
            let promise = eventLoop.makePromise(of: Bool.self)
            let bound = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.waiters[id] = nil
                promise.succeed(false)
            }
            waiters[id] = Waiter(condition: condition, promise: promise, bound: bound)
            return promise.futureResult
        }

        private func wake() {
            for (id, waiter) in waiters where waiter.condition(bytes, closed) {
                waiters[id] = nil
                waiter.bound.cancel()
                waiter.promise.succeed(true)
            }
        }
    }
}
