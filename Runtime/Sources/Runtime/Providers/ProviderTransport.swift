import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP edge of one provider: sends a JSON request and enforces the four timeouts.
///
/// Connect is bounded by the client's connect timeout; the other three by a watchdog that runs beside the
/// call and cancels it: no first byte of the answer within `firstToken`, a gap between chunks longer than
/// `idle`, or the whole call longer than `total`.
struct ProviderTransport: Sendable {
    let client: HTTPClient
    let timeouts: ProviderTimeouts

    static let maxErrorBody = 64 << 10
    static let maxBody = 16 << 20

    /// Creates the client for one provider; ``shutdown()`` must be called before the process ends.
    static func make(timeouts: ProviderTimeouts, maxConnections: Int) -> ProviderTransport {
        var configuration = HTTPClient.Configuration()
        // The watchdog enforces first-token and idle limits; the client's read timeout is only a backstop, and
        // it also runs while the head is awaited, so it must not be shorter than the first-token limit.
        configuration.timeout = .init(connect: .init(timeouts.connect), read: .init(max(timeouts.idle, timeouts.firstToken)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        // The client would otherwise retry a refused connection with backoff until the connect timeout ends (10 s
        // by default, measured): a crashed local server then costs every call that long before failover. The
        // router retries and fails over itself, knowing which failures are worth it.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .automatic
        return ProviderTransport(client: HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration), timeouts: timeouts)
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// POSTs `body` and hands the successful response's lines to `onLine`; error statuses become the
    /// provider's error via `errorFor(status, body, retryAfter)`.
    ///
    /// `onLine` returns true when it saw the stream's terminal frame; a stream that ends without one is
    /// ``ProviderError/truncated``.
    func postLines(
        url: String,
        headers: [(String, String)],
        body: [UInt8],
        errorFor: @escaping @Sendable (Int, String, Duration?) -> ProviderError,
        onLine: @escaping @Sendable (String) async throws -> Bool
    ) async throws {
        let clock = CallClock()
        try await watched(clock) {
            let response = try await execute(url: url, headers: headers, body: body, errorFor: errorFor)
            var splitter = LineSplitter()
            var finished = false
            var received = 0
            for try await chunk in response.body {
                received += chunk.readableBytes
                guard received <= Self.maxBody else { throw ProviderError.malformed("answer larger than \(Self.maxBody) bytes") }
                clock.tick()
                for line in splitter.append(chunk.readableBytesView) where try await onLine(line) {
                    finished = true
                }
            }
            if let last = splitter.finish(), try await onLine(last) { finished = true }
            if try await onLine("") { finished = true }
            guard finished else { throw ProviderError.truncated }
        }
    }

    /// POSTs `body` and returns the whole successful response body.
    func postJSON(
        url: String,
        headers: [(String, String)],
        body: [UInt8],
        errorFor: @escaping @Sendable (Int, String, Duration?) -> ProviderError
    ) async throws -> ByteBuffer {
        let clock = CallClock()
        return try await watched(clock) {
            let response = try await execute(url: url, headers: headers, body: body, errorFor: errorFor)
            do {
                return try await response.body.collect(upTo: Self.maxBody)
            } catch is NIOTooManyBytesError {
                throw ProviderError.malformed("answer larger than \(Self.maxBody) bytes")
            }
        }
    }

    /// POSTs a non-streaming request, decodes the whole answer and hands its text to `onText` at once.
    func postWhole(
        url: String,
        headers: [(String, String)],
        body: [UInt8],
        errorFor: @escaping @Sendable (Int, String, Duration?) -> ProviderError,
        decode: (ByteBuffer) throws -> ModelReply,
        onText: @Sendable (String) async -> Void
    ) async throws -> ModelReply {
        let reply = try decode(try await postJSON(url: url, headers: headers, body: body, errorFor: errorFor))
        if !reply.text.isEmpty { await onText(reply.text) }
        return reply
    }

    private func execute(
        url: String,
        headers: [(String, String)],
        body: [UInt8],
        errorFor: @Sendable (Int, String, Duration?) -> ProviderError
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "swiftlet/\(SwiftletVersion.current)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .init(timeouts.total))
        guard (200..<300).contains(response.status.code) else {
            let text: String
            do {
                text = String(buffer: try await response.body.collect(upTo: Self.maxErrorBody))
            } catch {
                text = ""
            }
            throw errorFor(Int(response.status.code), text, Self.retryAfter(response.headers.first(name: "retry-after")))
        }
        return response
    }

    /// Runs `call` beside a watchdog; the first to finish wins and the other is cancelled.
    private func watched<T: Sendable>(_ clock: CallClock, _ call: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await call() }
                group.addTask {
                    try await watchdog(clock)
                    return nil
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let result { return result }
                }
                throw CancellationError()
            }
        } catch {
            // Cancelled from outside (a /stop, a shutdown): whatever the client made of it, it is no provider failure.
            if Task.isCancelled { throw CancellationError() }
            throw Self.classify(error, timeouts: timeouts, sawChunk: clock.sawChunk)
        }
    }

    private func watchdog(_ clock: CallClock) async throws {
        while true {
            let (deadline, phase, limit) = clock.deadline(timeouts)
            if ContinuousClock.now >= deadline { throw ProviderError.timeout(phase: phase, after: limit) }
            try await Task.sleep(until: deadline, clock: .continuous)
        }
    }

    /// What a failed call means for the router.
    static func classify(_ error: any Error, timeouts: ProviderTimeouts, sawChunk: Bool) -> ProviderError {
        switch error {
        case let error as ProviderError: return error
        case let error as HTTPClientError: return map(error, timeouts: timeouts, sawChunk: sawChunk)
        // The connection closed in the middle of a chunked body: the answer was cut off.
        case let error as HTTPParserError where error == .invalidEOFState: return .truncated
        case let error as DecodingError: return .malformed("\(error)")
        case is CancellationError: return .connection("cancelled")
        default:
            if let reason = refusal(error) { return .refused(reason) }
            return .connection("\(error)")
        }
    }

    /// Why nothing could connect, when `error` (or one of the addresses it tried) is a refused connection. A reset
    /// or a closed connection is not one: a pooled keep-alive connection the server closed meanwhile looks the
    /// same, and a retry on a fresh connection settles it.
    static func refusal(_ error: any Error) -> String? {
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED { return "nothing listens at the provider's address" }
        if let error = error as? NIOConnectionError {
            for failure in error.connectionErrors {
                if let reason = refusal(failure.error) { return reason }
            }
        }
        return nil
    }

    static func map(_ error: HTTPClientError, timeouts: ProviderTimeouts, sawChunk: Bool) -> ProviderError {
        switch error {
        case .connectTimeout, .socksHandshakeTimeout, .tlsHandshakeTimeout: .timeout(phase: "connect", after: timeouts.connect)
        case .readTimeout where sawChunk: .timeout(phase: "idle", after: timeouts.idle)
        case .readTimeout: .timeout(phase: "first_token", after: timeouts.firstToken)
        case .deadlineExceeded: .timeout(phase: "total", after: timeouts.total)
        case .remoteConnectionClosed: sawChunk ? .truncated : .connection("the provider closed the connection before answering")
        case .cancelled: .connection("cancelled")
        default: .connection("\(error)")
        }
    }

    /// `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) {
            // Anything beyond a day means "not soon" to the router; clamping also keeps absurd values from trapping.
            guard seconds.isFinite, seconds >= 0 else { return nil }
            return .milliseconds(Int64(min(seconds, 86_400) * 1000))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }
}

/// Progress of one call, shared by the reader (which ticks) and the watchdog (which reads).
final class CallClock: Sendable {
    private struct State {
        var started = ContinuousClock.now
        var lastChunk: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    func tick() {
        state.withLock { $0.lastChunk = .now }
    }

    var sawChunk: Bool { state.withLock { $0.lastChunk != nil } }

    /// The next instant at which the call is overdue, the phase that would be overdue, and its limit.
    func deadline(_ timeouts: ProviderTimeouts) -> (ContinuousClock.Instant, String, Duration) {
        state.withLock { state in
            let total = state.started + timeouts.total
            let (phase, limit, next) =
                if let last = state.lastChunk { ("idle", timeouts.idle, last + timeouts.idle) } else {
                    ("first_token", timeouts.firstToken, state.started + timeouts.firstToken)
                }
            return next < total ? (next, phase, limit) : (total, "total", timeouts.total)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
