import Foundation
import Logging
import NIOCore
import NIOPosix

/// The only way out of a skill's sandbox when its entry grants `network`: an HTTP proxy on a Unix socket that
/// is mounted into the sandbox at its own path (the sandbox's own network namespace has nothing but loopback, where
/// swiftlet-skill-launch relays 127.0.0.1:3128 to this socket). Every request is checked against the grant
/// (``EgressRequest/decide(_:permissions:resolved:)``) and connected to the address that was checked.
final class SkillEgressProxy: Sendable {
    let socketPath: String
    private let folder: String
    private let channel: any Channel

    private init(socketPath: String, folder: String, channel: any Channel) {
        self.socketPath = socketPath
        self.folder = folder
        self.channel = channel
    }

    /// Starts the proxy of one skill on a socket in a fresh private folder (short, so it fits a socket address).
    static func start(skill: String, permissions: PermissionSet, logger: Logger) async throws -> SkillEgressProxy {
        var template = Array("/tmp/swiftlet-egress-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SkillLoadError("the egress proxy's folder could not be made: \(String(cString: strerror(errno)))") }
        let folder = String(cString: made)
        // Others may pass through, not list: a skill running as an unprivileged uid must reach the socket.
        chmod(folder, 0o711)
        let path = folder + "/proxy.sock"
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EgressHeadHandler(skill: skill, permissions: permissions, logger: logger))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        chmod(path, 0o666)
        return SkillEgressProxy(socketPath: path, folder: folder, channel: channel)
    }

    func stop() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// Reads a request head, decides, connects, then hands both sides to ``EgressGlue``.
private final class EgressHeadHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let skill: String
    let permissions: PermissionSet
    let logger: Logger
    private var buffered = ByteBuffer()
    private var deciding = false

    init(skill: String, permissions: PermissionSet, logger: Logger) {
        self.skill = skill
        self.permissions = permissions
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffered.writeBuffer(&bytes)
        guard !deciding else { return }
        let view = buffered.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if buffered.readableBytes > EgressRequest.maxHeadBytes { refuse(context, EgressDenied(status: 400, reason: "the request head is too large")) }
            return
        }
        deciding = true
        let headLength = end.lowerBound - view.startIndex
        let head = buffered.readString(length: headLength) ?? ""
        buffered.moveReaderIndex(forwardBy: 4)
        let request: EgressRequest
        do {
            request = try EgressRequest.parse(head)
        } catch {
            guard case .malformed(let reason) = error else { return }
            refuse(context, EgressDenied(status: 400, reason: reason))
            return
        }
        let permissions = permissions
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) { () -> [String] in
            PrivateAddress.mustResolve(request.host) ? PrivateAddress.resolve(request.host) : []
        }.whenComplete { result in
            let (handler, context) = bound.value
            let resolved = (try? result.get()) ?? []
            switch EgressRequest.decide(request, permissions: permissions, resolved: resolved) {
            case .failure(let denied):
                handler.refuse(context, denied)
            case .success(let address):
                handler.connect(context, request: request, address: address)
            }
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ denied: EgressDenied) {
        logger.warning("skill egress refused", metadata: ["skill": "\(skill)", "reason": "\(denied.reason)"])
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: denied.response))).whenComplete { _ in }
        context.close(promise: nil)
    }

    private func connect(_ context: ChannelHandlerContext, request: EgressRequest, address: String) {
        let target: SocketAddress
        do {
            target = try SocketAddress(ipAddress: address, port: request.port)
        } catch {
            refuse(context, EgressDenied(status: 502, reason: "\(address) is not an address"))
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.seconds(10))
            .connect(to: target)
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .failure(let error):
                    handler.refuse(context, EgressDenied(status: 502, reason: "\(request.host):\(request.port) could not be reached (\(error))"))
                case .success(let upstream):
                    handler.logger.info("skill egress", metadata: ["skill": "\(handler.skill)", "to": "\(request.host):\(request.port)", "address": "\(address)"])
                    handler.splice(context, upstream: upstream, request: request)
                }
            }
    }

    private func splice(_ context: ChannelHandlerContext, upstream: any Channel, request: EgressRequest) {
        let downstream = context.channel
        let downGlue = EgressGlue()
        let upGlue = EgressGlue()
        downGlue.partner = upGlue
        upGlue.partner = downGlue
        do {
            try upstream.pipeline.syncOperations.addHandler(upGlue)
            try downstream.pipeline.syncOperations.addHandler(downGlue)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        if let head = request.forwardedHead {
            var first = ByteBuffer(string: head + "\r\n\r\n")
            first.writeBuffer(&buffered)
            upstream.writeAndFlush(first, promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")), promise: nil)
            if buffered.readableBytes > 0 { upstream.writeAndFlush(buffered, promise: nil) }
        }
        buffered = ByteBuffer()
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}

/// One side of a spliced connection: what it reads, its partner writes; reading pauses while the partner cannot
/// keep up, so a slow side cannot make the proxy buffer without bound. Both sides live on one event loop.
private final class EgressGlue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var partner: EgressGlue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
