import FakePlatforms
import FakeProviders
import Foundation
import GRDB
import Hummingbird
import Synchronization
import Testing

import PluginAPI
@testable import Runtime

/// A real gateway with one channel plugin loaded from the build folder, wired to the fake provider (which answers
/// "echo: <user text>") and to a fake of the plugin's platform on loopback.
enum ChannelPluginHarness {
    struct Setup {
        /// The plugin's `plugins[]` entry in tools.json, as JSON text.
        var entry: String
        /// Secret name → value, written to the workspace `.env` as `SWIFTLET_SECRET_<NAME>`.
        var secrets: [String: String]
        /// More config.yaml (channels.<name>.*, limits, outbox).
        var config: String = ""
        /// Files put into the workspace before the start, by relative path.
        var files: [String: Data] = [:]
    }

    static func run(
        platform: Router<FakePlatformContext>, fake: FakeProvider = FakeProvider(), setup: (FakePlatformServer) -> Setup,
        _ body: (TestGateway, FakeProvider, FakePlatformServer) async throws -> Void
    ) async throws {
        try await FakePlatformServer.withServer(platform) { server in
            try await FakeProviderServer.withServer(fake) { provider in
                let setup = setup(server)
                let workspace = try TestGateway.makeWorkspace(config: MessagePathTests.config(provider, extra: setup.config))
                try #"{"version": 1, "plugins": [\#(setup.entry)]}"#.write(to: workspace.toolsFile, atomically: true, encoding: .utf8)
                let dotenv = setup.secrets.sorted { $0.key < $1.key }.map { "SWIFTLET_SECRET_\($0.key.uppercased())=\($0.value)" }.joined(separator: "\n")
                try dotenv.write(to: workspace.dotenvFile, atomically: true, encoding: .utf8)
                for (path, data) in setup.files {
                    let url = workspace.root.appendingPathComponent(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try data.write(to: url)
                }
                let gateway = try await TestGateway.start(workspace: workspace)
                do {
                    try await body(gateway, fake, server)
                } catch {
                    try? await gateway.stop()
                    throw error
                }
                try await gateway.stop()
            }
        }
    }

    /// Waits until `condition` holds, polling; false when `timeout` passes first.
    static func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return try await condition()
    }

    /// The plugin's load status, with its error when it did not load.
    static func status(_ gateway: TestGateway, _ name: String) -> PluginCatalog.Status? {
        gateway.state.plugins.statuses.first { $0.name == name }
    }

    struct JournalRow: Equatable {
        var id: String
        var externalID: String?
        var sender: String
        var text: String
        var replyTarget: String
    }

    struct OutboxRow: Equatable {
        var id: String
        var target: String
        var body: String
        var status: String
        var attempts: Int
        var lastError: String?
    }

    /// The ingress journal of `channel`, oldest first, read straight from the gateway's database.
    static func journal(_ gateway: TestGateway, channel: String) throws -> [JournalRow] {
        try database(gateway).read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ingress_journal WHERE channel = ? ORDER BY received_at, rowid", arguments: [channel]).map {
                JournalRow(id: $0["id"], externalID: $0["external_id"], sender: $0["sender"], text: $0["text"], replyTarget: $0["reply_target"])
            }
        }
    }

    /// The outbox of `channel` (replies and notices), oldest first.
    static func outbox(_ gateway: TestGateway, channel: String) throws -> [OutboxRow] {
        try database(gateway).read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE channel = ? ORDER BY created_at, rowid", arguments: [channel]).map {
                OutboxRow(id: $0["id"], target: $0["target"], body: $0["body"], status: $0["status"], attempts: $0["attempts"], lastError: $0["last_error"])
            }
        }
    }

    private static func database(_ gateway: TestGateway) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: gateway.workspace.path("data/swiftlet.sqlite").path, configuration: configuration)
    }

    /// The text of the last user message the model was sent.
    static func lastUserText(_ fake: FakeProvider) -> String? {
        fake.lastRequest?.messages.last { $0["role"]?.stringValue == "user" }?["content"]?.stringValue
    }

    /// A channel plugin built beside the tests, loaded into this process to be called directly.
    static func plugin(_ file: String, name: String) throws -> any ChannelPlugin {
        let url = PluginLoaderTests.buildDirectory.appendingPathComponent(file)
        return try #require(try PluginLoader.open(url, name: name).plugin as? any ChannelPlugin)
    }
}

/// A ``PluginContext`` for calling a channel plugin without a gateway: HTTP answered by a script and recorded,
/// inbound messages recorded, secrets and the store in memory.
final class RecordingPluginContext: PluginContext {
    struct HTTPScript: Sendable {
        var answer: @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse
    }

    final class RecordingHTTP: PluginHTTPClient {
        let script: HTTPScript
        let requests = Mutex<[PluginHTTPRequest]>([])

        init(script: HTTPScript) {
            self.script = script
        }

        func send(_ request: PluginHTTPRequest) async throws -> PluginHTTPResponse {
            requests.withLock { $0.append(request) }
            return try script.answer(request)
        }
    }

    final class RecordingInbound: InboundSink {
        let messages = Mutex<[PluginAPI.InboundMessage]>([])
        let refuses: Bool

        init(refuses: Bool) {
            self.refuses = refuses
        }

        func receive(_ message: PluginAPI.InboundMessage) async throws {
            if refuses { throw PluginAccessDenied(permission: "inbound", subject: "the test refuses") }
            messages.withLock { $0.append(message) }
        }
    }

    final class MemoryStore: PluginKeyValueStore {
        let values = Mutex<[String: String]>([:])
        func get(_ key: String) async throws -> String? { values.withLock { $0[key] } }
        func set(_ key: String, _ value: String) async throws { values.withLock { $0[key] = value } }
        func remove(_ key: String) async throws { _ = values.withLock { $0.removeValue(forKey: key) } }
    }

    let pluginName: String
    let configuration: String
    let files: any PluginFiles
    let recordingHTTP: RecordingHTTP
    let store: any PluginKeyValueStore = MemoryStore()
    let recordingInbound: RecordingInbound
    let secrets: [String: String]
    let logs = Mutex<[(level: PluginLogLevel, message: String)]>([])

    var http: any PluginHTTPClient { recordingHTTP }
    var inbound: any InboundSink { recordingInbound }
    var requests: [PluginHTTPRequest] { recordingHTTP.requests.withLock { $0 } }
    var received: [PluginAPI.InboundMessage] { recordingInbound.messages.withLock { $0 } }
    var logged: [(level: PluginLogLevel, message: String)] { logs.withLock { $0 } }

    let webSocket: any PluginWebSocketClient

    init(
        name: String, configuration: String, secrets: [String: String], refusesInbound: Bool = false, webSocket: any PluginWebSocketClient = RefusingWebSocketClient(),
        http: @escaping @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse
    ) {
        self.webSocket = webSocket
        pluginName = name
        self.configuration = configuration
        self.secrets = secrets
        recordingHTTP = RecordingHTTP(script: HTTPScript(answer: http))
        recordingInbound = RecordingInbound(refuses: refusesInbound)
        files = PluginFileAccess(workspace: FileManager.default.temporaryDirectory, permissions: PermissionSet())
    }

    func log(_ level: PluginLogLevel, _ message: String, metadata: [String: String]) {
        logs.withLock { $0.append((level, message)) }
    }

    func secret(_ name: String) throws -> String {
        guard let value = secrets[name] else { throw PluginAccessDenied(permission: "secrets", subject: name) }
        return value
    }

    func environment(_ name: String) throws -> String? { nil }

    func hmacSHA256(key: Data, message: Data) -> Data { HostPluginContext.hmacSHA256(key: key, message: message) }

    /// A JSON answer.
    static func json(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> PluginHTTPResponse {
        PluginHTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(text.utf8))
    }
}

extension PluginHTTPRequest {
    /// The body as a JSON object.
    var json: [String: Any] { body.flatMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] } ?? [:] }
}
