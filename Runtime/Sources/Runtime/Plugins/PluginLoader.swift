import Crypto
import Foundation
import Glibc
import PluginAPI

/// Why a plugin did not load; shown by `swiftlet plugins list`, `/ready` and the log.
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One loaded generation of a plugin: the code mapped from its own copy of the file.
struct LoadedGeneration: Sendable {
    var generation: Int
    var plugin: any Plugin
    var metadata: PluginMetadata
    /// The generation's private copy, which the process stays mapped to.
    var path: URL
    var sha256: String
    /// The sandboxed child that runs it, for `"isolation": "process"`; nil in-process.
    var process: IsolatedPlugin? = nil
}

/// Maps plugin files into the process.
///
/// glibc recognises an already-loaded object by its path and unloading Swift code is unsafe (see FACTS.md), so
/// every generation is copied to a path of its own and opened with `RTLD_NODELETE`: a new build of the same file
/// is new code, and an old generation's code stays mapped for calls still running on it.
enum PluginLoader {
    /// The plugin file an entry names: an absolute path, or the first of `searchDirectories` that has it.
    static func locate(_ file: String, searchDirectories: [URL]) -> URL? {
        if file.hasPrefix("/") { return FileManager.default.fileExists(atPath: file) ? URL(fileURLWithPath: file) : nil }
        return searchDirectories.map { $0.appendingPathComponent(file) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Copies `file` to `<staging>/<name>/g<generation>-<file name>`, checks its checksum and ABI version, and
    /// creates the plugin. What is hashed is exactly what is loaded: the bytes read once, written to the copy.
    static func load(entry: ToolsFile.PluginEntry, file: URL, generation: Int, staging: URL) throws(PluginLoadError) -> LoadedGeneration {
        let (copy, digest) = try stage(entry: entry, file: file, generation: generation, staging: staging)
        let (plugin, metadata) = try open(copy, name: entry.name)
        return LoadedGeneration(generation: generation, plugin: plugin, metadata: metadata, path: copy, sha256: digest)
    }

    /// Copies `file` to the generation's own path after checking the checksum tools.json records; returns the copy
    /// and its SHA-256. An isolated plugin's host opens the copy inside its sandbox, so the gateway never maps it.
    static func stage(entry: ToolsFile.PluginEntry, file: URL, generation: Int, staging: URL) throws(PluginLoadError) -> (copy: URL, sha256: String) {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: file)
        } catch {
            throw PluginLoadError("cannot read \(file.path): \(error.localizedDescription)")
        }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        if let expected = entry.sha256, expected != digest {
            throw PluginLoadError("checksum mismatch: tools.json expects sha256 \(expected), \(file.lastPathComponent) has \(digest)")
        }
        let directory = staging.appendingPathComponent(entry.name)
        let copy = directory.appendingPathComponent("g\(generation)-\(file.lastPathComponent)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: copy)
            try bytes.write(to: copy)
        } catch {
            throw PluginLoadError("cannot stage the plugin at \(copy.path): \(error.localizedDescription)")
        }
        return (copy, digest)
    }

    /// Maps a staged copy into this process and creates its plugin: the ABI version first (a plain C call), then
    /// the factory, then the metadata checks against the tools.json `name`.
    static func open(_ copy: URL, name: String) throws(PluginLoadError) -> (plugin: any Plugin, metadata: PluginMetadata) {
        guard let handle = dlopen(copy.path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw PluginLoadError("dlopen failed: \(lastDynamicLinkerError())")
        }
        // Only the plain C function may be called before the version is known to match.
        guard let versionSymbol = dlsym(handle, PluginABI.versionSymbol) else {
            throw PluginLoadError("not a swiftlet plugin: it does not export \(PluginABI.versionSymbol)")
        }
        let abiVersion = unsafeBitCast(versionSymbol, to: (@convention(c) () -> Int32).self)()
        guard abiVersion == PluginABI.version else {
            throw PluginLoadError("ABI version mismatch: the plugin was built for ABI \(abiVersion), this gateway speaks \(PluginABI.version); rebuild it against this PluginAPI")
        }
        guard let factorySymbol = dlsym(handle, PluginABI.factorySymbol) else {
            throw PluginLoadError("the plugin does not export \(PluginABI.factorySymbol)")
        }
        guard let exported = unsafeBitCast(factorySymbol, to: (@convention(c) () -> UnsafeMutableRawPointer?).self)() else {
            throw PluginLoadError("\(PluginABI.factorySymbol) returned no plugin")
        }
        let plugin = PluginExport.take(exported).plugin
        let metadata = plugin.metadata
        try check(metadata, name: name)
        switch metadata.kind {
        case .tool where !(plugin is any ToolPlugin):
            throw PluginLoadError("the plugin says it is a tool plugin but does not conform to ToolPlugin")
        case .channel where !(plugin is any ChannelPlugin):
            throw PluginLoadError("the plugin says it is a channel plugin but does not conform to ChannelPlugin")
        default:
            break
        }
        return (plugin, metadata)
    }

    /// The checks a plugin's own description must pass, wherever it was loaded.
    static func check(_ metadata: PluginMetadata, name: String) throws(PluginLoadError) {
        guard metadata.name == name else {
            throw PluginLoadError("the plugin calls itself '\(metadata.name)' but tools.json registers it as '\(name)'")
        }
        guard metadata.abiVersion == PluginABI.version else {
            throw PluginLoadError("ABI version mismatch: the plugin's metadata says ABI \(metadata.abiVersion), this gateway speaks \(PluginABI.version)")
        }
    }

    private static func lastDynamicLinkerError() -> String {
        guard let message = dlerror() else { return "unknown error" }
        return String(cString: message)
    }
}
