#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open files (`RLIMIT_NOFILE`), which the gateway raises from the soft to the hard
/// value at start.
///
/// Service managers and shells commonly start programs with a soft limit of 1,024 (a compatibility
/// default for `select(2)`, which NIO does not use) under a much higher hard limit. Each connection costs a
/// descriptor, so the soft value, not the machine, would decide how many clients the gateway can hold.
struct OpenFileLimit: Sendable, Equatable {
    var soft: UInt64
    var hard: UInt64

    /// The soft limit to ask for, or nil when it is already as high as it can go. An unlimited hard limit
    /// (macOS reports one) is not a valid soft limit there; 65,536 stays under its per-process maximum.
    /// Linux caps the hard limit at `fs.nr_open` (at most 2^30), so anything above `Int32.max` means unlimited:
    /// `RLIM_INFINITY` is a C macro Swift does not import.
    static func raisedSoftLimit(soft: UInt64, hard: UInt64) -> UInt64? {
        let wanted = hard > UInt64(Int32.max) ? max(soft, 65_536) : hard
        return wanted > soft ? wanted : nil
    }

    static func current() -> OpenFileLimit? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        return OpenFileLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Raises the soft limit as far as allowed. Returns the limits before and after; `after` equals `before`
    /// when nothing could be raised (the kernel refused, or the soft limit was already at the hard one).
    static func raiseSoftLimit() -> (before: OpenFileLimit, after: OpenFileLimit)? {
        guard let before = current() else { return nil }
        guard let wanted = raisedSoftLimit(soft: before.soft, hard: before.hard) else { return (before, before) }
        var limit = rlimit(rlim_cur: rlim_t(wanted), rlim_max: rlim_t(before.hard))
        guard setrlimit(resource, &limit) == 0 else { return (before, before) }
        return (before, current() ?? before)
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
