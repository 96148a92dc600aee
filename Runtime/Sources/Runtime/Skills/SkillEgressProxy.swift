import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

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

    /// Connections one skill may hold open through its proxy at once (all its runs together); more are refused.
    static let maxConnections = 64

    /// Starts the proxy of one skill on a socket in a fresh private folder (short, so it fits a socket address).
    /// The folder stays 0700: inside the sandbox only the socket is mounted, under folders bwrap makes itself.
    static func start(skill: String, permissions: PermissionSet, logger: Logger) async throws -> SkillEgressProxy {
        var template = Array("/tmp/swiftlet-egress-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SkillLoadError("the egress proxy's folder could not be made: \(String(cString: strerror(errno)))") }
        let folder = String(cString: made)
        let path = folder + "/proxy.sock"
        let shared = EgressShared(skill: skill, permissions: permissions, logger: logger)
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .childChannelInitializer { channel in
                    guard shared.open.add(1, ordering: .relaxed).newValue <= Self.maxConnections else {
                        shared.open.subtract(1, ordering: .relaxed)
                        shared.warn("refused a connection: \(Self.maxConnections) are open already")
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in shared.open.subtract(1, ordering: .relaxed) }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(EgressHeadHandler(shared: shared))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
                .get()
            // The skill's uid (another than the gateway's when it runs as root) connects to it.
            chmod(path, 0o666)
            return SkillEgressProxy(socketPath: path, folder: folder, channel: channel)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    func stop() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// What every connection of one skill's proxy shares: the grant, the open-connection count, the log budget.
private final class EgressShared: Sendable {
    let skill: String
    let permissions: PermissionSet
    let logger: Logger
    let open = Atomic<Int>(0)
    private let warnings = Atomic<Int>(0)

    init(skill: String, permissions: PermissionSet, logger: Logger) {
        self.skill = skill
        self.permissions = permissions
        self.logger = logger
    }

    /// At most 100 warnings per proxy reach the log: a skill cannot flood it with refused requests.
    func warn(_ reason: String) {
        let count = warnings.add(1, ordering: .relaxed).newValue
        if count <= 100 { logger.warning("skill egress refused", metadata: ["skill": "\(skill)", "reason": "\(reason)"]) }
        if count == 100 { logger.warning("further egress refusals of this skill are not logged", metadata: ["skill": "\(skill)"]) }
    }
}

/// Reads a request head, decides, connects, then hands both sides to ``EgressGlue``. While it decides it reads
/// nothing more, so a skill cannot make the gateway buffer without bound.
private final class EgressHeadHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let shared: EgressShared
    private var buffered = ByteBuffer()
    private var deciding = false

    init(shared: EgressShared) {
        self.shared = shared
    }

    var skill: String { shared.skill }
    var logger: Logger { shared.logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !deciding else {
            // Bytes of the same read that came after the head: kept for the upstream, bounded.
            guard buffered.readableBytes + bytes.readableBytes <= EgressRequest.maxHeadBytes else {
                context.close(promise: nil)
                return
            }
            buffered.writeBuffer(&bytes)
            return
        }
        buffered.writeBuffer(&bytes)
        let view = buffered.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if buffered.readableBytes > EgressRequest.maxHeadBytes { refuse(context, EgressDenied(status: 400, reason: "the request head is too large")) }
            return
        }
        deciding = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let headLength = end.lowerBound - view.startIndex
        let head = buffered.readString(length: headLength) ?? ""
        buffered.moveReaderIndex(forwardBy: 4)
        let request: EgressRequest
        do {
            request = try EgressRequest.parse(head)
        } catch {
            switch error {
            case .malformed(let reason): refuse(context, EgressDenied(status: 400, reason: reason))
            }
            return
        }
        let permissions = shared.permissions
        // The grant first: a name the skill may not reach is not even looked up (a lookup alone carries data out).
        if let denied = EgressRequest.notGranted(request, permissions: permissions) {
            refuse(context, denied)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let promise = loop.makePromise(of: [String].self)
        // getaddrinfo blocks: off the event loops, and off NIO's small shared thread pool.
        DispatchQueue.global().async {
            promise.succeed(PrivateAddress.mustResolve(request.host) ? PrivateAddress.resolve(request.host) : [])
        }
        promise.futureResult.whenSuccess { resolved in
            let (handler, context) = bound.value
            guard context.channel.isActive else { return }
            switch EgressRequest.decide(request, permissions: permissions, resolved: resolved) {
            case .failure(let denied):
                handler.refuse(context, denied)
            case .success(let address):
                handler.connect(context, request: request, address: address)
            }
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ denied: EgressDenied) {
        shared.warn(denied.reason)
        let channel = context.channel
        // Closed once the answer is out, so the skill reads why.
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: denied.response))).whenComplete { _ in channel.close(promise: nil) }
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
        downstream.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
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
