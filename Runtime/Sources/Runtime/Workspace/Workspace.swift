public import Foundation

/// The folder that holds one gateway's configuration, registry, skills, plugins, knowledge and state.
///
/// Chosen by `--workspace DIR`, else `SWIFTLET_HOME`, else `~/.swiftlet`. The repository root is a
/// workspace as it is.
public struct Workspace: Sendable, Equatable {
    public let root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    /// Applies the documented precedence: explicit flag, then `SWIFTLET_HOME`, then `~/.swiftlet`.
    public static func resolve(explicit: String?, environment: [String: String], currentDirectory: String = FileManager.default.currentDirectoryPath) -> Workspace {
        func absolute(_ path: String) -> URL {
            let expanded = (path as NSString).expandingTildeInPath
            return expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : URL(fileURLWithPath: currentDirectory).appendingPathComponent(expanded)
        }
        if let explicit, !explicit.isEmpty { return Workspace(root: absolute(explicit)) }
        if let home = environment["SWIFTLET_HOME"], !home.isEmpty { return Workspace(root: absolute(home)) }
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return Workspace(root: URL(fileURLWithPath: userHome).appendingPathComponent(".swiftlet"))
    }

    public var configFile: URL { root.appendingPathComponent("config.yaml") }
    public var configDirectory: URL { root.appendingPathComponent("config.d") }
    public var dotenvFile: URL { root.appendingPathComponent(".env") }
    public var toolsFile: URL { root.appendingPathComponent("tools.json") }
    public var skillsDirectory: URL { root.appendingPathComponent("skills") }
    public var pluginsDirectory: URL { root.appendingPathComponent("Plugins") }
    public var knowledgeDirectory: URL { root.appendingPathComponent("knowledge") }
    public var dataDirectory: URL { root.appendingPathComponent("data") }
    public var logsDirectory: URL { root.appendingPathComponent("logs") }
    /// The generated key that signs dashboard and session tokens (unless `control.signing_key` is set).
    public var signingKeyFile: URL { dataDirectory.appendingPathComponent("control.key") }
    /// Written while a gateway runs, so the CLI finds its port without guessing.
    public var runtimeFile: URL { dataDirectory.appendingPathComponent("gateway.json") }
    /// Locked by the running gateway for its lifetime (see ``WorkspaceLock``).
    public var lockFile: URL { dataDirectory.appendingPathComponent("gateway.lock") }

    /// Whether the workspace folder exists: a gateway or command given a `--workspace` that names no folder refuses
    /// rather than creating a new workspace (with a new control token) at a mistyped path.
    public var exists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// `environment` with what the workspace `.env` sets that it does not (the configuration's precedence): what
    /// the `env` and `secrets` grants of plugins and skills draw from.
    public func variables(over environment: [String: String]) -> [String: String] {
        guard let text = try? String(contentsOf: dotenvFile, encoding: .utf8) else { return environment }
        return environment.merging(DotEnvFile.parse(text).file.variables) { fromEnvironment, _ in fromEnvironment }
    }

    /// Resolves a configured path: absolute paths stay, relative ones are inside the workspace.
    public func path(_ configured: String) -> URL {
        configured.hasPrefix("/") ? URL(fileURLWithPath: configured) : root.appendingPathComponent(configured)
    }

    /// A path as shown to users: relative when it lies inside the workspace.
    public func displayPath(of url: URL) -> String {
        let full = url.standardizedFileURL.path
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full
    }

    /// Creates the folders the running gateway writes to (`data/`, `logs/`) with mode 0700 when missing,
    /// and proves they are writable, so a bad workspace fails at start with a clear message.
    public func prepareStateDirectories() throws(WorkspaceError) {
        for directory in [dataDirectory, logsDirectory] {
            try Self.createPrivateDirectory(directory)
            let probe = directory.appendingPathComponent(".write-probe-\(getpid())")
            guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
                throw WorkspaceError.notWritable(directory.path)
            }
            try? FileManager.default.removeItem(at: probe)
        }
    }

    static func createPrivateDirectory(_ url: URL) throws(WorkspaceError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw WorkspaceError.notADirectory(url.path) }
            return
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw WorkspaceError.cannotCreate(url.path, reason: error.localizedDescription)
        }
    }
}

public enum WorkspaceError: Error, Sendable, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case cannotCreate(String, reason: String)
    case notWritable(String)
    case alreadyInitialized(String)

    public var description: String {
        switch self {
        case .notADirectory(let path): "\(path) exists and is not a directory"
        case .cannotCreate(let path, let reason): "cannot create \(path): \(reason)"
        case .notWritable(let path): "\(path) is not writable by this user; fix its owner or mode (chmod 700), or choose another --workspace"
        case .alreadyInitialized(let path): "\(path) already holds a config.yaml; nothing was overwritten"
        }
    }
}
