import Foundation
import PluginAPI

/// Plans the sandbox of an isolated plugin: `bwrap`, the `swiftlet` executable that serves as the plugin host,
/// the folders of the libraries it runs on, and the entry's roots. Looked up when an isolated plugin loads, so a
/// gateway without one does no such work at start.
struct PluginSandbox: Sendable {
    let hostExecutable: URL?

    /// - Parameter hostExecutable: nil for `swiftlet` beside the running executable.
    init(hostExecutable: URL?) {
        // Resolved, so the folder it loads libPluginAPI.so from ($ORIGIN) is the one mounted.
        self.hostExecutable = (hostExecutable ?? Bundle.main.executableURL.map { $0.deletingLastPathComponent().appendingPathComponent("swiftlet") })?
            .resolvingSymlinksInPath()
    }

    /// The folders of the shared libraries this process has mapped (the Swift runtime, `libPluginAPI.so`), which
    /// the plugin host, built with it, needs as well, and the host executable's own folder ($ORIGIN).
    private func libraryDirectories(host: URL) -> [String] {
        // Read to the end: String(contentsOfFile:) stops at 4 KB on /proc files, which report a size of 0.
        let maps = FileHandle(forReadingAtPath: "/proc/self/maps").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
        return SandboxPlan.libraryDirectories(maps: maps) + [host.deletingLastPathComponent().path]
    }

    /// The sandbox of `entry`: its whitelisted roots, the staged plugin, the host executable and its libraries,
    /// nothing else; no network (HTTP goes through the gateway, which checks `network`).
    func launch(_ entry: ToolsFile.PluginEntry, plugin copy: URL, workspace: URL, variables: [String: String]) throws(PluginLoadError) -> IsolatedPlugin.Launch {
        guard let bubblewrap = Doctor.executable("bwrap", in: variables["PATH"] ?? Doctor.defaultPath) else {
            throw PluginLoadError("\"isolation\": \"process\" needs bubblewrap (bwrap), which is not installed: apt-get install bubblewrap")
        }
        guard let hostExecutable, FileManager.default.isExecutableFile(atPath: hostExecutable.path) else {
            throw PluginLoadError("the plugin host \(hostExecutable?.path ?? "swiftlet") is missing: build swiftlet (swift build)")
        }
        // Everything resolved now, and checked again before every start (see Launch.mountSources).
        let workspace = workspace.resolvingSymlinksInPath()
        let copy = copy.resolvingSymlinksInPath()
        let access = PluginFileAccess(workspace: workspace, permissions: entry.permissions)
        for root in access.readableRoots where Self.coversSystem(root) {
            throw PluginLoadError("files root \(root) is, holds or lies in /, /proc, /sys or /dev, which an isolated plugin may not mount")
        }
        // A writable root that does not exist yet is created, so it can be mounted (the plugin may create it anyway).
        for root in access.writableRoots where !FileManager.default.fileExists(atPath: root) {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        var plan = SandboxPlan(command: [hostExecutable.path, "plugin-host"])
        let system = SandboxPlan.system { path in try? FileManager.default.destinationOfSymbolicLink(atPath: path) }
        let ownFiles = libraryDirectories(host: hostExecutable) + [hostExecutable.path, copy.path]
        plan.readOnly = system.readOnly + ownFiles + access.readableRoots.filter { !access.writableRoots.contains($0) }
        plan.readWrite = access.writableRoots
        plan.symlinks = system.symlinks
        var environment: [String: String?] = [:]
        for name in entry.permissions.environment { environment[name] = variables[name] }
        var secrets: [String: String?] = [:]
        for name in entry.permissions.secrets { secrets[name] = variables[HostPluginContext.secretVariable(name)].flatMap { $0.isEmpty ? nil : $0 } }
        let initialize = PluginWire.Initialize(
            plugin: copy.path, name: entry.name, configuration: entry.configuration, workspace: workspace.path, readableRoots: access.readableRoots,
            writableRoots: access.writableRoots, environment: environment, secrets: secrets, memoryMB: entry.permissions.memoryMB,
            exec: entry.permissions.exec)
        return IsolatedPlugin.Launch(
            executable: bubblewrap, arguments: plan.arguments, initialize: initialize, mountSources: ownFiles + access.readableRoots)
    }

    /// Whether a root is `/`, or holds or lies in `/proc`, `/sys` or `/dev`: mounted, it would replace the
    /// sandbox's own (the host's processes, with their environments, would be there to read).
    static func coversSystem(_ root: String) -> Bool {
        let components = root.split(separator: "/")
        guard let top = components.first else { return true }
        return ["proc", "sys", "dev"].contains(String(top))
    }
}
