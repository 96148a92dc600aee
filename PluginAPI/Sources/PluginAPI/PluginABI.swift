/// The plugin contract's version and the C symbols every plugin exports.
///
/// A plugin is a shared library (`.so`) that links this package's `PluginAPI` product and exports two plain C
/// functions. The host calls the version function first, before it touches any Swift type of the plugin, and
/// refuses the plugin when the number differs from its own; then it calls the factory once per loaded generation.
///
/// ```swift
/// import PluginAPI
///
/// @c(swiftlet_plugin_abi_version)
/// public func abiVersion() -> Int32 { PluginABI.version }
///
/// @c(swiftlet_plugin_create)
/// public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(WordCountPlugin()) }
/// ```
///
/// Bump ``version`` on any change to the types the host and a plugin exchange.
public enum PluginABI {
    public static let version: Int32 = 5
    /// `Int32 swiftlet_plugin_abi_version(void)`: the ABI version the plugin was built against.
    public static let versionSymbol = "swiftlet_plugin_abi_version"
    /// `void *swiftlet_plugin_create(void)`: a retained ``PluginExport``, as ``PluginExport/retained(_:)`` makes it.
    public static let factorySymbol = "swiftlet_plugin_create"
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

/// The box a plugin's factory hands to the host through a C pointer.
///
/// The factory returns ``retained(_:)``; the host takes the reference back (balancing the retain) and keeps
/// the plugin for as long as that generation serves.
public final class PluginExport: Sendable {
    public let plugin: any Plugin

    public init(_ plugin: any Plugin) {
        self.plugin = plugin
    }

    /// A +1 reference to a new box around `plugin`, for the factory to return.
    public static func retained(_ plugin: any Plugin) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(PluginExport(plugin)).toOpaque()
    }

    /// Takes ownership of the box a factory returned (host side).
    public static func take(_ pointer: UnsafeMutableRawPointer) -> PluginExport {
        Unmanaged<PluginExport>.fromOpaque(pointer).takeRetainedValue()
    }
}
