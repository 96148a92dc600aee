import Hummingbird
import NIOCore
public import Logging

/// A running fake LLM provider: one HTTP server answering the OpenAI, Anthropic and Ollama wire
/// formats by path, as scripted by a ``FakeProvider``.
///
/// Tests run it around a body and it stops when the body ends, closing streams and hanging
/// replies still in flight:
///
/// ```swift
/// let provider = FakeProvider()
/// provider.enqueue(.text("hi"), wire: .anthropic)
/// try await FakeProviderServer.withServer(provider) { server in
///     let client = makeClient(baseURL: server.baseURL)   // "http://127.0.0.1:53187"
///     // …
/// }
/// ```
public struct FakeProviderServer: Sendable {
    /// Why the server could not report a bound port.
    public struct StartError: Error {}

    public let host: String
    /// The bound port (the real one when 0 was asked for).
    public let port: Int
    public let provider: FakeProvider

    /// `http://host:port`, without a trailing slash; append `/v1/chat/completions`, `/v1/messages`
    /// or `/api/chat`.
    public var baseURL: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "http://\(host):\(self.port)"
    }

    /// Starts a server, runs `body` with it once it listens, then stops it.
    ///
    /// Stopping cancels the server task, which ends streams, stalls and hangs still in flight.
    ///
    /// - Parameters:
    ///   - provider: the script and record the server answers from.
    ///   - host: the address to bind.
    ///   - port: the port to bind; 0 picks a free one.
    ///   - logger: the server's logger. By default only critical messages: stopping by cancellation
    ///     makes Hummingbird log its interrupted accept loop as an error, which is noise in a test.
    ///   - isolation: the caller's isolation, in which `body` runs.
    ///   - body: the work to do while the server runs.
    /// - Returns: what `body` returns.
    public static func withServer<Value>(
        _ provider: FakeProvider,
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (FakeProviderServer) async throws -> Value
    ) async throws -> Value {
        let (boundPorts, boundPort) = AsyncStream.makeStream(of: Int.self)
        let application = Self.application(provider, host: host, port: port, logger: logger ?? Self.defaultLogger(level: .critical)) { port in
            boundPort.yield(port)
            boundPort.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask {
                defer { boundPort.finish() }
                try await application.run()
            }
            var ports = boundPorts.makeAsyncIterator()
            guard let port = await ports.next(isolation: isolation) else {
                try await group.next()
                throw StartError()
            }
            defer { group.cancelAll() }
            return try await body(FakeProviderServer(host: host, port: port, provider: provider))
        }
    }

    /// Runs a server until the process receives SIGINT or SIGTERM, then shuts it down gracefully.
    ///
    /// - Parameters:
    ///   - provider: the script and record the server answers from.
    ///   - host: the address to bind.
    ///   - port: the port to bind; 0 picks a free one.
    ///   - logger: the server's logger; by default one that logs warnings and worse.
    ///   - onListening: called once the socket is bound. Connections are not accepted until it
    ///     returns, so keep it short (print the address, signal a waiter).
    public static func run(
        _ provider: FakeProvider,
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger? = nil,
        onListening: @escaping @Sendable (FakeProviderServer) async -> Void
    ) async throws {
        let application = Self.application(provider, host: host, port: port, logger: logger ?? Self.defaultLogger(level: .warning)) { port in
            await onListening(FakeProviderServer(host: host, port: port, provider: provider))
        }
        try await application.runService()
    }

    private static func application(
        _ provider: FakeProvider,
        host: String,
        port: Int,
        logger: Logger,
        onBound: @escaping @Sendable (Int) async -> Void
    ) -> Application<FakeProviderResponder> {
        Application(
            responder: FakeProviderResponder(provider: provider),
            // A deep accept backlog: load tests open connections in bursts.
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), backlog: 4096),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    private static func defaultLogger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "swiftlet.fake-provider")
        logger.logLevel = level
        return logger
    }
}
