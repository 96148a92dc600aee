import Foundation
import PluginAPI

/// ``PluginFiles`` limited to the entry's `permissions.files` roots.
///
/// Every path is resolved with `realpath(3)` (the nearest existing ancestor for a file still to be created)
/// before the check, so `..` and symbolic links cannot lead outside a root. In-process this is the gateway's
/// check and a plugin could swap a link between check and use; plugins that must not be trusted that far run
/// with `"isolation": "process"`, where only the roots are mounted at all.
struct PluginFileAccess: PluginFiles {
    let workspace: URL
    let readableRoots: [String]
    let writableRoots: [String]

    init(workspace: URL, permissions: PermissionSet) {
        self.workspace = workspace
        // A root that does not exist yet (a notes folder before the first write) is resolved through its nearest existing ancestor.
        let resolve = { (roots: [String]) in
            roots.compactMap { root in
                let absolute = Self.absolute(root, in: workspace)
                return Self.realPath(absolute) ?? Self.resolveMissing(absolute)
            }
        }
        writableRoots = resolve(permissions.write)
        readableRoots = resolve(permissions.read) + writableRoots
    }

    /// Roots already resolved (an isolated plugin's host receives them from the gateway).
    init(workspace: URL, readableRoots: [String], writableRoots: [String]) {
        self.workspace = workspace
        self.readableRoots = readableRoots
        self.writableRoots = writableRoots
    }

    func read(_ path: String) throws -> Data {
        let resolved = try resolve(path, roots: readableRoots, permission: "files.read", mustExist: true)
        return try Data(contentsOf: URL(fileURLWithPath: resolved))
    }

    func write(_ path: String, _ data: Data) throws {
        let resolved = try resolve(path, roots: writableRoots, permission: "files.write", mustExist: false)
        let url = URL(fileURLWithPath: resolved)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    func list(_ path: String) throws -> [String] {
        let resolved = try resolve(path, roots: readableRoots, permission: "files.read", mustExist: true)
        return try FileManager.default.contentsOfDirectory(atPath: resolved).sorted().map { name in
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: resolved + "/" + name, isDirectory: &isDirectory)
            return exists && isDirectory.boolValue ? name + "/" : name
        }
    }

    /// The resolved absolute path when it lies inside `roots`, otherwise ``PluginAccessDenied``.
    func resolve(_ path: String, roots: [String], permission: String, mustExist: Bool) throws -> String {
        let absolute = Self.absolute(path, in: workspace)
        let resolved: String?
        if let existing = Self.realPath(absolute) {
            resolved = existing
        } else if mustExist {
            // Say "not found" only for paths the plugin may see; elsewhere the answer is the same refusal.
            let parent = Self.resolveMissing(absolute)
            guard let parent, PermissionSet.path(parent, isInside: roots) else { throw PluginAccessDenied(permission: permission, subject: path) }
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        } else {
            resolved = Self.resolveMissing(absolute)
        }
        guard let resolved, PermissionSet.path(resolved, isInside: roots) else { throw PluginAccessDenied(permission: permission, subject: path) }
        return resolved
    }

    /// The absolute path, `.` and `..` resolved lexically: no link is followed here (realpath does that, on the
    /// whole path, afterwards).
    static func absolute(_ path: String, in workspace: URL) -> String {
        let joined = path.hasPrefix("/") ? path : workspace.path + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// A path that does not exist yet: its nearest existing ancestor resolved, plus the rest (which holds no
    /// `..`, the path having been normalised by ``absolute(_:in:)``). A dangling symbolic link on the way is
    /// refused (nil): the kernel would follow it where the check did not.
    static func resolveMissing(_ path: String) -> String? {
        var components = path.split(separator: "/").map(String.init)
        var rest: [String] = []
        while !components.isEmpty {
            let prefix = "/" + components.joined(separator: "/")
            if let existing = realPath(prefix) {
                return ([existing == "/" ? "" : existing] + rest).joined(separator: "/")
            }
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: prefix)) != nil { return nil }
            rest.insert(components.removeLast(), at: 0)
        }
        return "/" + rest.joined(separator: "/")
    }
}
