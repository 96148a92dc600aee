import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to a running gateway's admin API for the CLI.
public struct AdminClient: Sendable {
    public let baseURL: String
    let token: String
    /// The command that starts the gateway this client looks for, named when none runs (with the `--workspace`
    /// the user gave, so the hint starts the right one).
    public let startCommand: String

    public init(baseURL: String, token: String, startCommand: String = "swiftlet gateway start") {
        self.baseURL = baseURL
        self.token = token
        self.startCommand = startCommand
    }

    /// The CLI's client. A refused connection fails at once: the shared client retries it until its 10 s connect
    /// timeout ends, so "no gateway is running" took 10 s to say. Never shut down: it lives as long as the process.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public struct Reply: @unchecked Sendable {
        // @unchecked: `body` holds only JSONSerialization output (dictionaries, arrays, strings, numbers),
        // immutable after parsing.
        public var status: Int
        public var body: [String: Any]
    }

    public func get(_ path: String) async throws(AdminClientError) -> Reply {
        try await send(path, method: .GET)
    }

    /// - Parameter timeout: how long to wait for the answer; long for requests that wait for work to finish
    ///   (a plugin reload drains calls in flight).
    public func post(_ path: String, timeout: Duration = .seconds(10)) async throws(AdminClientError) -> Reply {
        try await send(path, method: .POST, timeout: timeout)
    }

    private func send(_ path: String, method: HTTPMethod, timeout: Duration = .seconds(10)) async throws(AdminClientError) -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "User-Agent", value: "swiftlet-cli/\(SwiftletVersion.current)")
        let response: HTTPClientResponse
        let data: ByteBuffer
        do {
            response = try await Self.http.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
            data = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw AdminClientError.classify(error, url: baseURL, startCommand: startCommand)
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
        let status = Int(response.status.code)
        if status == 401 {
            throw .unauthorized((body["error"] as? [String: Any])?["message"] as? String ?? "unauthorized")
        }
        return Reply(status: status, body: body)
    }
}

public enum AdminClientError: Error, Sendable, CustomStringConvertible {
    case notRunning(url: String, startCommand: String)
    case unauthorized(String)
    case failed(String)

    public var description: String {
        switch self {
        case .notRunning(let url, let startCommand): "no gateway is running at \(url) (connection refused). Start one with `\(startCommand)`."
        case .unauthorized(let message): "the gateway refused the token: \(message)"
        case .failed(let message): message
        }
    }

    static func classify(_ error: any Error, url: String, startCommand: String) -> AdminClientError {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("connect(descriptor") {
            return .notRunning(url: url, startCommand: startCommand)
        }
        return .failed("request to \(url) failed: \(text)")
    }
}
