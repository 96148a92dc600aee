public import Foundation

/// One gateway per workspace: an exclusive `flock` on `data/gateway.lock`, taken before the gateway touches
/// anything else in the workspace (plugin staging, the store, `data/gateway.json`) and held until the process ends.
///
/// A second gateway on the same folder would rebuild `data/plugins/` under the first and, when it stopped, remove
/// the first one's `data/gateway.json`. A lock the kernel holds for the process, rather than a pid file, is released
/// however the process ends (`kill -9` included), so a crash never leaves a stale lock behind.
///
/// ```swift
/// let lock = try WorkspaceLock.acquire(workspace)   // before Gateway.open
/// defer { lock.release() }
/// ```
///
/// The descriptor is opened close-on-exec: a child (isolated plugin, skill) must not keep the lock after the
/// gateway dies. Thread safety: `acquire` and `release` may be called from any thread.
public final class WorkspaceLock: Sendable {
    public let file: URL
    private let descriptor: Int32

    private init(file: URL, descriptor: Int32) {
        self.file = file
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Takes the lock of `workspace`, whose `data/` folder must exist, and writes this process's pid into it so
    /// that a refused second start can name the holder.
    public static func acquire(_ workspace: Workspace) throws(WorkspaceLockError) -> WorkspaceLock {
        let url = workspace.lockFile
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unusable(url.path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            close(descriptor)
            guard failure == EWOULDBLOCK else { throw .unusable(url.path, reason: String(cString: strerror(failure))) }
            throw .held(workspace: workspace.root.path, holder: holder(of: workspace))
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(descriptor, 0) != 0 || pwrite(descriptor, pid, pid.count, 0) != pid.count {
            let failure = errno
            close(descriptor)
            throw .unusable(url.path, reason: String(cString: strerror(failure)))
        }
        return WorkspaceLock(file: url, descriptor: descriptor)
    }

    /// Gives the lock up before the process ends (the kernel does it at exit otherwise).
    public func release() {
        flock(descriptor, LOCK_UN)
    }

    /// The gateway that holds the lock of `workspace`, as far as the files say: the pid written into the lock file,
    /// and its address once `data/gateway.json` names the same pid (it is written when the server listens).
    static func holder(of workspace: Workspace) -> WorkspaceLockError.Holder {
        let text = (try? String(contentsOf: workspace.lockFile, encoding: .utf8)) ?? ""
        let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        guard let pid, let running = RuntimeFile.read(workspace.runtimeFile), running.pid == pid else { return .init(pid: pid, address: nil) }
        let host = running.bind.contains(":") ? "[\(running.bind)]" : running.bind
        return .init(pid: pid, address: "\(host):\(running.port)")
    }
}

/// Why a gateway could not take its workspace.
public enum WorkspaceLockError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The gateway that holds a workspace: its pid and listening address, when the files name them.
    public struct Holder: Sendable, Equatable {
        public var pid: Int?
        public var address: String?
    }

    case held(workspace: String, holder: Holder)
    case unusable(String, reason: String)

    public var description: String {
        switch self {
        case .held(let workspace, let holder):
            let pid = holder.pid.map { "pid \($0)" } ?? "pid unknown"
            let address = holder.address.map { "listening on \($0)" } ?? "still starting"
            return "another gateway already runs on the workspace \(workspace) (\(pid), \(address)); one gateway per workspace. "
                + "Stop it with `swiftlet gateway stop --workspace \(workspace)`, or start this one on another workspace."
        case .unusable(let path, let reason):
            return "cannot lock \(path): \(reason)"
        }
    }
}
