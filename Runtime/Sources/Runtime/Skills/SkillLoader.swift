import Crypto
import Foundation
import Logging
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Prepares registered skills to run: reads SKILL.md, checks the entry against it, finds the interpreter,
/// builds a Python skill's virtual environment from its requirements (outside the sandbox, once per content of
/// the requirements file), resolves the granted folders and plans the sandbox.
struct SkillLoader: Sendable {
    let workspace: Workspace
    let variables: [String: String]
    let logger: Logger
    /// Where `swiftlet-skill-launch` is looked for: beside the running executable unless given.
    let launcher: URL

    init(workspace: Workspace, variables: [String: String], logger: Logger, launcher: URL? = nil) {
        self.workspace = workspace
        self.variables = variables
        self.logger = logger
        self.launcher = (launcher ?? Bundle.main.executableURL.map { $0.deletingLastPathComponent().appendingPathComponent("swiftlet-skill-launch") }
            ?? URL(fileURLWithPath: "swiftlet-skill-launch")).resolvingSymlinksInPath()
    }

    /// The system interpreters skills run with: under /usr, which every sandbox mounts.
    static let pythonCandidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
    static let shellCandidates = ["/usr/bin/bash", "/bin/bash", "/usr/bin/sh", "/bin/sh"]
    /// The parts of /etc a program may need and that hold nothing private: the alternatives links (awk, editor...),
    /// the loader cache, the time zone, the CA certificates (HTTPS through the egress proxy).
    static let systemConfiguration = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/certs"]
    static let loaderCandidates = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-x86-64.so.2"]

    /// - Parameter writableElsewhere: the resolved writable roots of every entry of tools.json (skills and plugins):
    ///   nothing this skill mounts may lie inside one, where the code granted it could swap a folder for a link.
    func load(_ entry: ToolsFile.SkillEntry, writableElsewhere: [String] = []) async throws(SkillLoadError) -> SkillRunner {
        let folderURL = SkillSurvey.folder(of: entry, in: workspace).resolvingSymlinksInPath()
        let manifest: SkillManifest
        switch SkillSurvey.manifest(in: folderURL) {
        case .failure(let error): throw SkillLoadError(error.description)
        case .success(let parsed): manifest = parsed
        }
        guard manifest.name == entry.name else {
            throw SkillLoadError("SKILL.md names the skill '\(manifest.name)' but tools.json registers it as '\(entry.name)'")
        }
        let folder = folderURL.path
        let script = folderURL.appendingPathComponent(manifest.entry).resolvingSymlinksInPath().path
        guard PermissionSet.path(script, isInside: [folder]), FileManager.default.isReadableFile(atPath: script) else {
            throw SkillLoadError("the entry script \(manifest.entry) is missing or lies outside the skill folder")
        }
        let interpreter: String
        var interpreterArguments: [String] = []
        var environmentFolder: String?
        switch manifest.runtime {
        case .python:
            guard let python = Self.pythonCandidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
                throw SkillLoadError("python skills need Python 3 under /usr (apt-get install python3 python3-venv)")
            }
            if let requirements = manifest.requirements {
                let file = folderURL.appendingPathComponent(requirements).resolvingSymlinksInPath().path
                guard PermissionSet.path(file, isInside: [folder]) else {
                    throw SkillLoadError("the requirements file \(requirements) lies outside the skill folder")
                }
                let venv = try await virtualEnvironment(skill: entry.name, requirements: URL(fileURLWithPath: file), python: python)
                environmentFolder = venv
                interpreter = venv + "/bin/python"
            } else {
                interpreter = python
            }
            // Environment variables (PYTHON*) and the user site are ignored; no bytecode is written.
            interpreterArguments = ["-E", "-s", "-B"]
        case .shell:
            guard let shell = Self.shellCandidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
                throw SkillLoadError("shell skills need bash or sh under /usr")
            }
            interpreter = shell
        }
        let workspaceRoot = workspace.root.resolvingSymlinksInPath()
        let access = PluginFileAccess(workspace: workspaceRoot, permissions: entry.permissions)
        for root in access.readableRoots where PluginSandbox.coversSystem(root) {
            throw SkillLoadError("files root \(root) is, holds or lies in /, /proc, /sys or /dev, which a skill may not mount")
        }
        for root in access.writableRoots where !FileManager.default.fileExists(atPath: root) {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        let skill = SkillLaunch.Skill(
            name: entry.name, folder: folder, interpreter: interpreter, interpreterFile: URL(fileURLWithPath: interpreter).resolvingSymlinksInPath().path,
            interpreterArguments: interpreterArguments, script: script, environmentFolder: environmentFolder, readableRoots: access.readableRoots,
            writableRoots: access.writableRoots, limits: entry.limits, memoryMB: entry.permissions.memoryMB, exec: entry.permissions.exec,
            workspace: workspaceRoot.path)
        // A writable root holding something a sandbox mounts would let the code granted it swap that for a link to
        // anything on the host between two runs.
        let writable = access.writableRoots + writableElsewhere
        for source in skill.mountSources + [launcher.path] {
            if let root = SandboxProcess.liesInside(source, anyOf: writable) {
                throw SkillLoadError("\(source) lies inside \(root), which a skill or plugin may write: it cannot be mounted safely; move it out or narrow the grant")
            }
        }
        var host: SkillLaunch.Host?
        switch entry.sandbox {
        case .none:
            logger.warning(
                "skill registered WITHOUT a sandbox (tools.json sandbox: none): it runs with every right of the gateway", metadata: ["skill": "\(entry.name)"])
        case .bubblewrap:
            host = try sandboxHost()
            if getuid() == 0 { warnUnreadable(skill) }
        }
        var proxy: SkillEgressProxy?
        if !entry.permissions.network.isEmpty, entry.sandbox == .bubblewrap {
            do {
                proxy = try await SkillEgressProxy.start(skill: entry.name, permissions: entry.permissions, logger: logger)
            } catch {
                throw SkillLoadError("the egress proxy did not start: \(error)")
            }
        }
        return SkillRunner(entry: entry, manifest: manifest, skill: skill, host: host, proxy: proxy, variables: variables, logger: logger)
    }

    func sandboxHost() throws(SkillLoadError) -> SkillLaunch.Host {
        guard let bubblewrap = Doctor.executable("bwrap", in: variables["PATH"] ?? Doctor.defaultPath) else {
            throw SkillLoadError(
                "skills run in bubblewrap (bwrap), which is not installed: apt-get install bubblewrap (or, knowing the risk, set \"sandbox\": \"none\")")
        }
        guard FileManager.default.isExecutableFile(atPath: launcher.path) else {
            throw SkillLoadError("\(launcher.path) is missing: build swiftlet (swift build)")
        }
        let system = SandboxPlan.system { path in try? FileManager.default.destinationOfSymbolicLink(atPath: path) }
        let loaders = Self.loaderCandidates.filter { FileManager.default.fileExists(atPath: $0) }.map {
            URL(fileURLWithPath: $0).resolvingSymlinksInPath().path
        }
        return SkillLaunch.Host(
            bubblewrap: bubblewrap, launcher: launcher.path,
            systemReadOnly: system.readOnly + Self.systemConfiguration.filter { FileManager.default.fileExists(atPath: $0) }, systemLinks: system.symlinks, loaders: Array(Set(loaders)).sorted())
    }

    /// A gateway running as root runs skills as an unprivileged uid, which reads only what others may read: says
    /// so, at load, for every granted folder that uid cannot use.
    private func warnUnreadable(_ skill: SkillLaunch.Skill) {
        for root in [skill.folder] + skill.readableRoots where !Self.skillsMay(read: true, root) {
            logger.warning(
                "the gateway runs as root, so this skill runs as an unprivileged uid, which cannot read this folder (chmod o+rX, or chgrp \(SkillUIDPool.group) and g+rX; or run the gateway as a user)",
                metadata: ["skill": "\(skill.name)", "path": "\(root)"])
        }
        for root in skill.writableRoots where !Self.skillsMay(read: false, root) {
            logger.warning(
                "the gateway runs as root, so this skill runs as an unprivileged uid, which cannot write this folder (chgrp \(SkillUIDPool.group) and chmod g+rwX; or run the gateway as a user)",
                metadata: ["skill": "\(skill.name)", "path": "\(root)"])
        }
    }

    /// Whether a skill run (another uid, the group ``SkillUIDPool/group``) may read, or write, `path`.
    static func skillsMay(read: Bool, _ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let mode = attributes[.posixPermissions] as? Int else { return true }
        let isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
        let others = read ? (isDirectory ? 0o005 : 0o004) : 0o003
        let group = others << 3
        let groupID = (attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value
        return mode & others == others || (groupID == SkillUIDPool.group && mode & group == group)
    }

    /// The skill's virtual environment for this content of its requirements file: built once (outside the
    /// sandbox, where pip may reach the network), kept under data/skills/<name>/, shared by every run read-only.
    func virtualEnvironment(skill: String, requirements: URL, python: String) async throws(SkillLoadError) -> String {
        guard let content = try? Data(contentsOf: requirements) else {
            throw SkillLoadError("the requirements file \(requirements.lastPathComponent) is missing")
        }
        let digest = SHA256.hash(data: content + Data(python.utf8)).map { String(format: "%02x", $0) }.joined().prefix(16)
        let parent = workspace.dataDirectory.appendingPathComponent("skills").appendingPathComponent(skill)
        let target = parent.appendingPathComponent("venv-\(digest)")
        if FileManager.default.fileExists(atPath: target.appendingPathComponent("bin/python").path) { return target.path }
        let building = parent.appendingPathComponent("building-\(UUID().uuidString)")
        do {
            // Only the environment folder itself needs to be readable by the skill's uid: the sandbox makes the
            // folders leading to it, so data/ stays private.
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            logger.notice("building the skill's Python environment", metadata: ["skill": "\(skill)", "requirements": "\(requirements.path)"])
            try await Self.run(python, ["-m", "venv", building.path])
            // Wheels only: installing one runs none of its code, where building a source package would run its
            // setup code here, outside any sandbox.
            try await Self.run(
                building.path + "/bin/python",
                ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--only-binary=:all:", "-r", requirements.path])
            // Everyone may read and run it (never write): the skill's uid needs to.
            try await Self.run("/bin/chmod", ["-R", "go+rX,go-w", building.path])
            do {
                try FileManager.default.moveItem(at: building, to: target)
            } catch where FileManager.default.fileExists(atPath: target.appendingPathComponent("bin/python").path) {
                // Another preparation of the same skill finished first: its environment is the same.
                try? FileManager.default.removeItem(at: building)
            }
        } catch {
            try? FileManager.default.removeItem(at: building)
            throw SkillLoadError("its Python environment could not be built from \(requirements.lastPathComponent): \(error)")
        }
        // Older environments of this skill are no longer used.
        for old in (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? [] where old.hasPrefix("venv-") && old != target.lastPathComponent {
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(old))
        }
        return target.path
    }

    /// Runs a set-up command to its end; fails with its last lines of output.
    private static func run(_ executable: String, _ arguments: [String]) async throws {
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        guard case .exited(0) = result.terminationStatus else {
            let text = (result.standardError + result.standardOutput).split(separator: "\n").suffix(5).joined(separator: " / ")
            throw SkillLoadError("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.prefix(2).joined(separator: " ")) failed: \(text)")
        }
    }
}
