import PluginAPI

// A plugin built for another ABI: the loader must refuse it after calling only the version function.

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version + 100 }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer {
    fatalError("the host must not call the factory of a plugin whose ABI version does not match")
}
