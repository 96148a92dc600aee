import Foundation

/// An append-only file rotated by size: `swiftlet.log` becomes `swiftlet.log.1`, and so on up to `keep`.
///
/// Not thread-safe on its own; ``LogSink`` serialises access.
final class RotatingLogFile {
    let path: String
    var maxSize: Int
    var keep: Int
    private var descriptor: Int32 = -1
    private var size = 0

    init(path: String, maxSize: Int, keep: Int) throws {
        self.path = path
        self.maxSize = maxSize
        self.keep = keep
        try open()
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    private func open() throws {
        descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WorkspaceError.cannotCreate(path, reason: String(cString: strerror(errno)))
        }
        size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        if size > 0 && size + bytes.count > maxSize { rotate() }
        guard descriptor >= 0 else { return }
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        if written > 0 { size += written }
    }

    private func rotate() {
        close(descriptor)
        descriptor = -1
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(path).\(keep)")
        for index in stride(from: keep - 1, through: 1, by: -1) where manager.fileExists(atPath: "\(path).\(index)") {
            try? manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
        }
        try? manager.moveItem(atPath: path, toPath: "\(path).1")
        try? open()
    }
}
