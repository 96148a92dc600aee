/// The command line of one sandboxed skill run: `bwrap`, its sandbox, then `swiftlet-skill-launch` with the
/// limits, the uid and the exec rule, then the interpreter and the script. Pure: the caller resolves paths, picks
/// the uid and supplies the environment values.
struct SkillLaunch: Sendable {
    /// What the host provides every run.
    struct Host: Sendable, Equatable {
        var bubblewrap: String
        var launcher: String
        /// `/usr` and the `/lib` links (``SandboxPlan/system(symlinkTarget:)``).
        var systemReadOnly: [String]
        var systemLinks: [SandboxPlan.Link]
        /// The ELF loaders present (executing a dynamically linked interpreter executes its loader as well).
        var loaders: [String]
    }

    /// One registered skill, resolved at load.
    struct Skill: Sendable, Equatable {
        var name: String
        /// The skill folder, resolved: mounted read-only at the same path.
        var folder: String
        /// The program to run (the venv's python, or the system interpreter) and the script.
        var interpreter: String
        /// The interpreter's real file, which exec rules name.
        var interpreterFile: String
        var interpreterArguments: [String]
        var script: String
        /// The skill's virtual environment, mounted read-only, if it has one.
        var environmentFolder: String?
        var readableRoots: [String]
        var writableRoots: [String]
        var limits: ToolsFile.SkillLimits
        var memoryMB: Int
        var exec: Bool
        /// The workspace, which the skill sees as SWIFTLET_WORKSPACE (only granted parts of it are mounted).
        var workspace: String

        /// What is mounted from the host for this skill (besides the system part and the launcher).
        var mountSources: [String] {
            [folder] + (environmentFolder.map { [$0] } ?? []) + readableRoots + writableRoots
        }
    }

    /// The port the proxy relay listens on inside the sandbox when egress is granted.
    static let proxyPort = 3128
    static let path = "/usr/local/bin:/usr/bin:/bin"

    var executable: String
    var arguments: [String]
    /// bwrap's environment, which the skill inherits (never on the command line: it carries secrets).
    var environment: [(name: String, value: String)]

    /// - Parameters:
    ///   - uid: the unprivileged uid to run as (in the group ``SkillUIDPool/group``) when the gateway is root; nil
    ///     when it is not, and the sandbox gets a user namespace of its own instead.
    ///   - proxySocket: the host path of the skill's filtering proxy socket when it may reach the network.
    ///   - environment: the whitelisted variables and secrets with their values.
    init(skill: Skill, host: Host, uid: UInt32?, proxySocket: String?, environment: [(name: String, value: String)]) {
        var launcher = [host.launcher]
        // One group for every run: files a run leaves in a writable root stay writable for later runs (umask 002).
        if let uid { launcher += ["--uid", String(uid), "--gid", String(SkillUIDPool.group), "--umask", "002"] }
        let limits = skill.limits
        launcher += [
            "--limit", "core=0", "--limit", "cpu=\(limits.cpuSeconds)", "--limit", "as=\(skill.memoryMB << 20)",
            "--limit", "fsize=\(limits.fileSizeMB << 20)", "--limit", "nofile=\(limits.openFiles)", "--limit", "nproc=\(limits.processes)",
        ]
        if !skill.exec {
            for file in [skill.interpreterFile] + host.loaders { launcher += ["--exec-only", file] }
        }
        // The proxy's socket is mounted at its own path, like everything else.
        if let proxySocket { launcher += ["--proxy", "\(Self.proxyPort):\(proxySocket)"] }
        launcher += ["--", skill.interpreter] + skill.interpreterArguments + [skill.script]

        var plan = SandboxPlan(command: launcher)
        plan.userNamespace = uid == nil
        // bwrap's init waits for every process in the sandbox, not just the skill: without this, a process the
        // skill left behind (setsid, double fork) would keep the sandbox alive after bwrap returned. With it, the
        // kernel kills the init, and with it the whole PID namespace, the moment bwrap exits.
        plan.dieWithParent = true
        if uid != nil {
            plan.keptCapabilities = ["CAP_SETUID", "CAP_SETGID"]
            plan.temporaryMode = "1777"
        }
        // The scratch folder of this run: /tmp, empty, memory-backed and bounded; gone with the sandbox.
        plan.temporaryBytes = max(64, limits.fileSizeMB) << 20
        plan.workingDirectory = "/tmp"
        var variables: [(name: String, value: String)] = [
            ("HOME", "/tmp"), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8"), ("PATH", Self.path), ("SWIFTLET_SKILL", skill.name),
            ("SWIFTLET_WORKSPACE", skill.workspace), ("PYTHONDONTWRITEBYTECODE", "1"),
        ]
        if proxySocket != nil {
            let proxy = "http://127.0.0.1:\(Self.proxyPort)"
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] { variables.append((name, proxy)) }
        }
        plan.environment = variables + environment
        plan.environmentInherited = true
        plan.sharedMemoryBytes = 16 << 20
        plan.readOnly = host.systemReadOnly + [host.launcher] + (proxySocket.map { [$0] } ?? [])
            + skill.mountSources.filter { !skill.writableRoots.contains($0) }
        plan.readWrite = skill.writableRoots
        plan.symlinks = host.systemLinks
        executable = host.bubblewrap
        arguments = plan.arguments
        self.environment = plan.environment
    }
}
