// With member import visibility on, this toolchain credits the fields of Glibc's `stat` and `timespec`
// to whichever module's headers the compiler met first (CoreFoundation in release builds, Dispatch in
// debug ones, through CDispatch), so both are imported for the field reads below.
import CoreFoundation
import CDispatch
import Glibc

/// A regular file's modification time and size, as `stat(2)` reports them: enough to tell that a small
/// file such as the persona changed, for the price of one system call.
struct FileStamp: Equatable, Sendable {
    var seconds: Int
    var nanoseconds: Int
    var size: Int

    /// The stamp of the regular file at `path`, or nil when there is none (missing, a directory, unreadable).
    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        seconds = status.st_mtim.tv_sec
        nanoseconds = status.st_mtim.tv_nsec
        size = Int(status.st_size)
    }
}
