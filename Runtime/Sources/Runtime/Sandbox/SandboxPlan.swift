/// What a bubblewrap sandbox shows the code inside it, and the `bwrap` arguments that build it.
///
/// Pure: the caller resolves paths on the host first. Every path is mounted at the same absolute path inside,
/// so a path means the same on both sides. Nothing else of the host's file system is there: no /etc, no /home,
/// no /root, no /var; /tmp is an empty tmpfs of bounded size; /proc and /dev are the sandbox's own. The root
/// itself is read-only, so the folders bwrap creates to mount on cannot be written either.
struct SandboxPlan: Sendable, Equatable {
    /// Host paths (folders or files) mounted read-only. A missing one is skipped.
    var readOnly: [String] = []
    /// Host paths mounted writable. A missing one is skipped.
    var readWrite: [String] = []
    /// Symbolic links to create inside: `link` pointing at `target`.
    var symlinks: [Link] = []
    /// Whether the sandbox keeps the host's network; otherwise it has a network namespace of its own with only
    /// a loopback device, and reaches nothing outside.
    var shareNetwork = false
    /// Variables the sandboxed program starts with; nothing else of the gateway's environment passes.
    var environment: [(name: String, value: String)] = [("HOME", "/tmp"), ("LANG", "C.UTF-8")]
    /// Whether ``environment`` is bwrap's own environment, which the sandboxed program inherits (the caller starts
    /// bwrap with exactly those variables), instead of `--setenv` arguments: a command line is readable by every
    /// user of the machine in /proc, so values that are secrets must not be on it.
    var environmentInherited = false
    /// A bounded /dev/shm of this size, and /dev itself read-only; nil keeps bwrap's /dev as it makes it (as a
    /// user without root, a writable tmpfs of half the machine's memory).
    var sharedMemoryBytes: Int?
    /// The size of the sandbox's own /tmp (memory, so it is bounded).
    var temporaryBytes = 64 << 20
    /// `--die-with-parent`: the kernel kills the sandbox when the *thread* that started bwrap exits, which in a
    /// thread pool can be long before the gateway ends. Off by default: a long-lived sandbox ends when its
    /// standard input closes (the gateway's end closes it too), and a kill goes to the sandbox's init.
    var dieWithParent = false
    /// Whether the sandbox gets a user namespace of its own (every namespace unshared). Without one (only possible
    /// when the gateway runs as root) the sandbox's processes keep their real uid: a skill's launcher then
    /// switches to an unprivileged one, which the kernel's per-user process limit applies to (root, and any uid a
    /// user namespace maps to root, is exempt from it).
    var userNamespace = true
    /// Capabilities kept when everything else is dropped (the launcher's CAP_SETUID and CAP_SETGID, which it gives
    /// up with root).
    var keptCapabilities: [String] = []
    /// The mode of /tmp: 1777 when the sandboxed program runs as another uid than the one that mounted it.
    var temporaryMode: String?
    var workingDirectory = "/"
    var command: [String]

    struct Link: Sendable, Equatable {
        var target: String
        var link: String
    }

    init(command: [String]) {
        self.command = command
    }

    static func == (lhs: SandboxPlan, rhs: SandboxPlan) -> Bool {
        lhs.arguments == rhs.arguments
    }

    /// The system part every sandbox gets: `/usr` read-only, and `/bin`, `/lib`, `/lib64` and `/sbin` as the
    /// host has them (links into `/usr` on a merged-/usr system, read-only mounts otherwise).
    ///
    /// - Parameter symlinkTarget: the target of a host path that is a symbolic link, nil for anything else.
    static func system(symlinkTarget: (String) -> String?) -> (readOnly: [String], symlinks: [Link]) {
        var readOnly = ["/usr"]
        var symlinks: [Link] = []
        for path in ["/bin", "/lib", "/lib64", "/sbin"] {
            if let target = symlinkTarget(path) {
                symlinks.append(Link(target: target, link: path))
            } else {
                readOnly.append(path)
            }
        }
        return (readOnly, symlinks)
    }

    /// The arguments of `bwrap`, ending with `--` and the command.
    ///
    /// Every namespace is unshared (user, IPC, PID, UTS, cgroup and, unless ``shareNetwork``, network); all
    /// capabilities are dropped (as root without `--cap-drop ALL` a sandboxed process could remount a read-only
    /// bind writable); the sandbox runs in a new session (no terminal injection).
    /// Mounts go parents first, so a writable folder inside a read-only one stays writable.
    var arguments: [String] {
        var arguments: [String]
        if userNamespace {
            arguments = ["--unshare-all"]
            if shareNetwork { arguments.append("--share-net") }
        } else {
            arguments = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            if !shareNetwork { arguments.append("--unshare-net") }
        }
        if dieWithParent { arguments.append("--die-with-parent") }
        arguments += ["--new-session", "--cap-drop", "ALL"]
        for capability in keptCapabilities { arguments += ["--cap-add", capability] }
        if !environmentInherited {
            arguments.append("--clearenv")
            for (name, value) in environment { arguments += ["--setenv", name, value] }
        }
        arguments += ["--proc", "/proc", "--dev", "/dev"]
        if let sharedMemoryBytes { arguments += ["--perms", "1777", "--size", String(sharedMemoryBytes), "--tmpfs", "/dev/shm"] }
        arguments += ["--size", String(temporaryBytes)]
        if let temporaryMode { arguments += ["--perms", temporaryMode] }
        arguments += ["--tmpfs", "/tmp"]
        let mounts = (readOnly.map { ($0, false) } + readWrite.map { ($0, true) })
            .map { (path: Self.normalised($0.0), writable: $0.1) }
            .sorted { Self.depth($0.path) < Self.depth($1.path) || (Self.depth($0.path) == Self.depth($1.path) && !$0.writable && $1.writable) }
        var seen: Set<String> = []
        // Without a user namespace bwrap makes the folders leading to a mount point private to root (0700), which a
        // program that gives up root could not pass: they are made first, open to everyone (they hold nothing).
        var made: Set<String> = []
        let bound = mounts.map(\.path)
        for mount in mounts where seen.insert("\(mount.path)\u{0}\(mount.writable)").inserted {
            if !userNamespace {
                for ancestor in Self.ancestors(mount.path) where !PermissionSet.path(ancestor, isInside: bound) && made.insert(ancestor).inserted {
                    arguments += ["--perms", "0755", "--dir", ancestor]
                }
            }
            arguments += [mount.writable ? "--bind-try" : "--ro-bind-try", mount.path, mount.path]
        }
        for link in symlinks { arguments += ["--symlink", link.target, link.link] }
        if sharedMemoryBytes != nil { arguments += ["--remount-ro", "/dev"] }
        arguments += ["--remount-ro", "/", "--chdir", workingDirectory, "--"]
        return arguments + command
    }

    private static func normalised(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    /// `/a`, `/a/b` for `/a/b/c`.
    static func ancestors(_ path: String) -> [String] {
        let components = path.split(separator: "/")
        return (1..<max(1, components.count)).map { "/" + components.prefix($0).joined(separator: "/") }
    }

    private static func depth(_ path: String) -> Int {
        path.split(separator: "/").count
    }

    /// The folders of the shared libraries a process has mapped, from the text of its `/proc/<pid>/maps`:
    /// what a program of the same build needs mounted to start inside a sandbox. Folders the system part
    /// already holds (`/usr`, and `/bin`, `/lib`, `/lib64`, `/sbin`, which are links into it or mounted whole)
    /// are left out.
    static func libraryDirectories(maps: String) -> [String] {
        var directories: [String] = []
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/"), let last = line.lastIndex(of: "/") else { continue }
            let file = line[line.index(after: last)...]
            guard file.hasSuffix(".so") || file.contains(".so.") else { continue }
            let directory = String(line[slash..<last])
            let top = directory.split(separator: "/").first.map(String.init) ?? ""
            guard !["usr", "bin", "lib", "lib64", "sbin"].contains(top) else { continue }
            if !directories.contains(directory) { directories.append(directory) }
        }
        return directories
    }
}
