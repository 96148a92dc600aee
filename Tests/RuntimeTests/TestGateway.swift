import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

@testable import Runtime

/// A real gateway on a free port in a throwaway workspace, for integration tests.
final class TestGateway: Sendable {
    let workspace: Workspace
    let gateway: Gateway
    let baseURL: String
    let port: Int
    let controlToken: String
    private let runTask: Task<Result<Void, GatewayError>, Never>

    private init(workspace: Workspace, gateway: Gateway, port: Int, controlToken: String, runTask: Task<Result<Void, GatewayError>, Never>) {
        self.workspace = workspace
        self.gateway = gateway
        self.port = port
        self.baseURL = "http://127.0.0.1:\(port)"
        self.controlToken = controlToken
        self.runTask = runTask
    }

    static func makeWorkspace(config: String = "") throws -> Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-test-\(UUID().uuidString)")
        let workspace = Workspace(root: root)
        try workspace.scaffold()
        if !config.isEmpty { try config.write(to: workspace.configFile, atomically: true, encoding: .utf8) }
        return workspace
    }

    static func start(config: String = "", workspace: Workspace? = nil) async throws -> TestGateway {
        let workspace = try workspace ?? makeWorkspace(config: config)
        let loader = ConfigLoader(workspace: workspace, environment: [:], overrides: [ConfigOverride(path: "gateway.port", value: "0", flag: "--port")])
        let config = try loader.load()
        let sink = try LogSink(settings: .init(level: .debug, stdout: false, file: (workspace.logsDirectory.appendingPathComponent("swiftlet.log").path, 10 << 20, 2)))
        let gateway = try await Gateway.open(config: config, loader: loader, logSink: sink)
        let token = gateway.newControlToken ?? ""
        let (portStream, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do {
                try await gateway.run(handleSignals: false) { endpoint in continuation.yield(endpoint.port) }
                continuation.finish()
                return Result<Void, GatewayError>.success(())
            } catch let error as GatewayError {
                continuation.finish()
                return .failure(error)
            } catch {
                continuation.finish()
                return .failure(.server("\(error)"))
            }
        }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next() else {
            if case .failure(let error) = await task.value { throw error }
            throw GatewayError.server("gateway stopped before listening")
        }
        return TestGateway(workspace: workspace, gateway: gateway, port: port, controlToken: token, runTask: task)
    }

    var state: GatewayState { gateway.state }

    /// Stops gracefully and waits until the gateway has shut down.
    func stop() async throws {
        await gateway.state.requestShutdown()
        try await finished()
    }

    func finished() async throws {
        if case .failure(let error) = await runTask.value { throw error }
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    func request(_ path: String, method: HTTPMethod = .GET, token: String? = nil, headers: [(String, String)] = [], body: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 8 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: data))
    }

    /// A client that does not follow redirects, so tests see the 303 of the cookie exchange.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
}
