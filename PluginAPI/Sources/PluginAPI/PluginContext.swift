public import Foundation

/// Everything a plugin may reach outside its own code, each part limited by the plugin's entry in tools.json.
///
/// In-process plugins share the gateway's address space, so this is the only sanctioned way to files, the
/// network, the environment and secrets: each call checks the whitelist and throws ``PluginAccessDenied``
/// for anything not listed. Plugins run with `"isolation": "process"` are also fenced by the kernel.
public protocol PluginContext: Sendable {
    /// The plugin's name in tools.json.
    var pluginName: String { get }
    /// The `config` object of the plugin's tools.json entry, as JSON text (`{}` when there is none).
    var configuration: String { get }
    var files: any PluginFiles { get }
    var http: any PluginHTTPClient { get }
    /// WebSocket connections, limited like ``http``; in-process plugins only (the default refuses).
    var webSocket: any PluginWebSocketClient { get }
    /// A key-value store private to this plugin that survives restarts and reloads.
    var store: any PluginKeyValueStore { get }
    /// Channel plugins deliver received messages here; tool plugins get a sink that refuses.
    var inbound: any InboundSink { get }

    /// Writes to the gateway's log, labelled with the plugin's name; secret values are redacted.
    func log(_ level: PluginLogLevel, _ message: String, metadata: [String: String])
    /// A secret listed under `permissions.secrets`.
    func secret(_ name: String) throws -> String
    /// An environment variable listed under `permissions.env` (nil when it is listed but unset).
    func environment(_ name: String) throws -> String?
    /// HMAC-SHA256 of `message` under `key`, computed by the host's crypto library (webhook signatures).
    func hmacSHA256(key: Data, message: Data) -> Data
}

extension PluginContext {
    public var webSocket: any PluginWebSocketClient { RefusingWebSocketClient() }

    public func log(_ level: PluginLogLevel, _ message: String) {
        log(level, message, metadata: [:])
    }

    /// Whether `signature` (lower-case or upper-case hex) is the HMAC-SHA256 of `message` under `key`, compared in
    /// constant time.
    public func verifyHMACSHA256(hex signature: String, key: Data, message: Data) -> Bool {
        let expected = hmacSHA256(key: key, message: message).map { String(format: "%02x", $0) }.joined()
        return ConstantTime.equal(signature.lowercased(), expected)
    }
}

/// Comparisons of secrets, for the host and plugins alike.
public enum ConstantTime {
    /// Whether `given` equals `expected`, in time that depends only on their lengths, never on where they differ.
    public static func equal(_ given: String, _ expected: String) -> Bool {
        let (a, b) = (Array(given.utf8), Array(expected.utf8))
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

public enum PluginLogLevel: String, Sendable, CaseIterable {
    case debug, info, notice, warning, error
}

/// A refusal by the whitelist: what was asked and which permission would allow it.
public struct PluginAccessDenied: Error, Sendable, Equatable, CustomStringConvertible {
    /// `files.read`, `files.write`, `network`, `env`, `secrets`, `inbound`.
    public var permission: String
    /// The path, host:port or name that was refused.
    public var subject: String

    public init(permission: String, subject: String) {
        self.permission = permission
        self.subject = subject
    }

    public var description: String { "permission denied: \(subject) is not allowed by \(permission) in tools.json" }
}

/// Files under the roots the plugin's `permissions.files` lists.
///
/// Paths are relative to the workspace or absolute. They are resolved (symbolic links followed) before the
/// check, so a link or `..` that leads outside the allowed roots is refused.
public protocol PluginFiles: Sendable {
    func read(_ path: String) throws -> Data
    /// Writes atomically, creating missing parent folders inside an allowed root.
    func write(_ path: String, _ data: Data) throws
    /// The entries of a folder: names, with a trailing `/` on folders.
    func list(_ path: String) throws -> [String]
    /// The allowed roots, resolved, for plugins that walk them (search, indexing).
    var readableRoots: [String] { get }
    var writableRoots: [String] { get }
}

/// An HTTP client that only reaches the hosts in the plugin's `permissions.network`.
///
/// Redirects are not followed: a 3xx comes back as it is, so a plugin cannot be led to another host.
public protocol PluginHTTPClient: Sendable {
    func send(_ request: PluginHTTPRequest) async throws -> PluginHTTPResponse
}

public struct PluginHTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Whole-request deadline; the entry's timeout bounds it too.
    public var timeoutSeconds: Double
    /// Larger response bodies fail the request.
    public var maxResponseBytes: Int

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: Data? = nil, timeoutSeconds: Double = 30,
        maxResponseBytes: Int = 4 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.maxResponseBytes = maxResponseBytes
    }
}

public struct PluginHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header of that name, compared without regard to case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Small values a plugin keeps between calls and restarts (offsets, tokens, caches).
public protocol PluginKeyValueStore: Sendable {
    func get(_ key: String) async throws -> String?
    func set(_ key: String, _ value: String) async throws
    func remove(_ key: String) async throws
}
