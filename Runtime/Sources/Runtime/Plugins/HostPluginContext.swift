import Crypto
import Foundation
import Logging
import PluginAPI

/// The ``PluginContext`` the gateway hands an in-process plugin: each part checks the entry's permissions.
struct HostPluginContext: PluginContext {
    let pluginName: String
    let configuration: String
    let files: any PluginFiles
    let http: any PluginHTTPClient
    let webSocket: any PluginWebSocketClient
    let store: any PluginKeyValueStore
    let inbound: any InboundSink
    let permissions: PermissionSet
    /// The process environment, plus what the workspace `.env` sets that the environment does not.
    let variables: [String: String]
    let logger: Logger

    func log(_ level: PluginLogLevel, _ message: String, metadata: [String: String]) {
        var entries = metadata.mapValues { Logger.MetadataValue.string($0) }
        entries["plugin"] = .string(pluginName)
        let mapped: Logger.Level =
            switch level {
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .error: .error
            }
        logger.log(level: mapped, "\(message)", metadata: entries)
    }

    /// Secret `NAME` is the variable `SWIFTLET_SECRET_NAME` (upper-cased), from the environment or `.env`.
    func secret(_ name: String) throws -> String {
        guard permissions.allowsSecret(name) else { throw PluginAccessDenied(permission: "secrets", subject: name) }
        guard let value = variables[Self.secretVariable(name)], !value.isEmpty else {
            throw Self.unset(secret: name)
        }
        return value
    }

    func environment(_ name: String) throws -> String? {
        guard permissions.allowsEnvironment(name) else { throw PluginAccessDenied(permission: "env", subject: name) }
        return variables[name]
    }

    func hmacSHA256(key: Data, message: Data) -> Data { Self.hmacSHA256(key: key, message: message) }

    static func hmacSHA256(key: Data, message: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// The failure of a whitelisted secret that has no value, in- or out-of-process.
    static func unset(secret name: String) -> ToolFailure {
        ToolFailure("the secret \(name) is not set (set \(secretVariable(name)) in the environment or .env)")
    }

    static let secretPrefix = "SWIFTLET_SECRET_"
    static func secretVariable(_ name: String) -> String { secretPrefix + name.uppercased() }
}

/// A plugin's slice of the gateway store.
struct PluginStoreSlice: PluginKeyValueStore {
    let plugin: String
    let store: any GatewayStore

    func get(_ key: String) async throws -> String? { try await store.pluginValue(plugin: plugin, key: key) }
    func set(_ key: String, _ value: String) async throws { try await store.setPluginValue(plugin: plugin, key: key, value: value) }
    func remove(_ key: String) async throws { try await store.setPluginValue(plugin: plugin, key: key, value: nil) }
}

/// The sink tool plugins get: they have no inbound messages to deliver.
struct RefusingInboundSink: InboundSink {
    let plugin: String

    func receive(_ message: PluginAPI.InboundMessage) async throws {
        throw PluginAccessDenied(permission: "inbound", subject: "\(plugin) is a tool plugin")
    }
}
