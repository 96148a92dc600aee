import Foundation

/// The processes of a running bubblewrap sandbox, seen from the host.
enum SandboxProcess {
    /// Ends a sandbox at once: SIGKILL to its init, bwrap's child; the kernel then kills everything in its PID
    /// namespace, whatever session or process group it moved to. The caller kills bwrap itself through its
    /// process handle (which knows whether it was reaped). Killing bwrap alone would leave the sandbox running:
    /// it is not tied to bwrap's life (see ``SandboxPlan/dieWithParent``).
    static func killSandbox(bubblewrap: Int32) {
        guard bubblewrap > 0 else { return }
        for child in children(of: bubblewrap) { _ = kill(child, SIGKILL) }
    }

    /// The first of `sources` (resolved paths, checked when the sandbox was planned) that no longer resolves to
    /// itself: swapped for a symbolic link, or a folder on its way replaced by one. bwrap, as root, would follow
    /// the link and mount what it points to (the host's /proc or /etc) instead. Nil when all are as planned.
    static func changedMount(_ sources: [String]) -> String? {
        for source in sources where FileManager.default.fileExists(atPath: source) || (try? FileManager.default.destinationOfSymbolicLink(atPath: source)) != nil {
            guard PluginFileAccess.realPath(source) == source else { return source }
        }
        return nil
    }

    /// Whether `path` lies strictly inside one of `roots`: a folder there can be swapped by whoever may write
    /// that root, between two sandboxes that mount it.
    static func liesInside(_ path: String, anyOf roots: [String]) -> String? {
        roots.first { root in path != root && PermissionSet.path(path, isInside: [root]) }
    }

    /// The processes whose parent is `pid`, from `/proc/<n>/stat` (the field after the command name).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let candidate = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? candidate : nil
        }
    }
}
