/// The plugin contract's version.
///
/// A plugin exports a plain C function returning the ABI version it was built against; the host calls it
/// before touching any Swift type from the plugin and refuses a mismatch. Bump it on any change to the
/// types a plugin and the host exchange.
///
/// ```swift
/// @c(swiftlet_plugin_abi_version)
/// public func abiVersion() -> Int32 { PluginABI.version }
/// ```
public enum PluginABI {
    public static let version: Int32 = 1
    /// Name of the C symbol every plugin exports with its ABI version.
    public static let versionSymbol = "swiftlet_plugin_abi_version"
}

/// What a plugin provides.
public enum PluginKind: String, Sendable, Codable, CaseIterable {
    case channel
    case tool
}

/// A plugin's identity as shown by `swiftlet plugins list`.
public struct PluginMetadata: Sendable, Codable, Equatable {
    public var name: String
    public var version: String
    public var kind: PluginKind
    public var abiVersion: Int32

    /// - Parameters:
    ///   - name: unique name, as registered in tools.json.
    ///   - version: the plugin's own version.
    ///   - kind: channel or tool.
    ///   - abiVersion: the ``PluginABI/version`` the plugin was built against.
    public init(name: String, version: String, kind: PluginKind, abiVersion: Int32 = PluginABI.version) {
        self.name = name
        self.version = version
        self.kind = kind
        self.abiVersion = abiVersion
    }
}
