import Hummingbird
import Logging

/// Assembles every HTTP and WebSocket route of the gateway on one router.
enum GatewayRouter {
    static func build(state: GatewayState) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: BodyLimitMiddleware(state: state))
        router.add(middleware: LogRequestsMiddleware(.debug))
        addHealthRoutes(to: router, state: state)
        addAdminRoutes(to: router, state: state)
        addOpenAIRoutes(to: router, state: state)
        addWebChatRoutes(to: router, state: state)
        addChannelRoutes(to: router, state: state)
        ControlSocket.addRoute(to: router, state: state)
        return router
    }
}

/// Answers 413 before reading a body whose declared length exceeds `gateway.max_body_size`.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let state: GatewayState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limit = state.config.gateway.maxBodySize
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "request body of \(declared) bytes exceeds gateway.max_body_size (\(limit))")
        }
        var request = request
        let body = request.body
        request.body = .init(asyncSequence: LimitedBody(base: body, limit: limit))
        return try await next(request, context)
    }
}

/// A request body that fails once more than `limit` bytes arrive (chunked bodies declare no length).
struct LimitedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        var seen = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            seen += chunk.readableBytes
            if seen > limit {
                throw APIError(.contentTooLarge, code: "body_too_large", message: "request body exceeds gateway.max_body_size (\(limit))")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), limit: limit)
    }
}
