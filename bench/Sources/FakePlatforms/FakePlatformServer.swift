public import Hummingbird
public import HummingbirdWebSocket
import Logging
import NIOCore

/// The request context of the fake platforms' routers: a basic context that can also upgrade to a WebSocket (the
/// fake Slack's Socket Mode).
public struct FakePlatformContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
    }
}

/// A local HTTP (and WebSocket) server for a fake platform API: runs a Hummingbird router on a free loopback port for the
/// duration of a body.
public struct FakePlatformServer: Sendable {
    public struct StartError: Error {}

    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public static func withServer<Value>(
        _ router: Router<FakePlatformContext>, isolation: isolated (any Actor)? = #isolation, _ body: (FakePlatformServer) async throws -> Value
    ) async throws -> Value {
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "swiftlet.fake-platform")
        logger.logLevel = .critical
        let application = Application(
            router: router, server: .http1WebSocketUpgrade(webSocketRouter: router), configuration: .init(address: .hostname("127.0.0.1", port: 0), backlog: 4096),
            onServerRunning: { channel in
                bound.yield(channel.localAddress?.port ?? 0)
                bound.finish()
            }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask {
                defer { bound.finish() }
                try await application.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(isolation: isolation) else {
                try await group.next()
                throw StartError()
            }
            defer { group.cancelAll() }
            return try await body(FakePlatformServer(port: port))
        }
    }
}
