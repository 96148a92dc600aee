#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raises the soft limit on open files towards the hard limit, so a thousand sockets fit under the
/// common default soft limit of 1,024. A failure leaves the limit as it was; connections that then fail
/// are reported as connection failures.
public func raiseOpenFileLimit() {
    #if canImport(Glibc)
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return }
    // macOS reports an unlimited hard limit but refuses a soft limit above kern.maxfilesperproc.
    let wanted = min(limit.rlim_max, 65_536)
    guard limit.rlim_cur < wanted else { return }
    limit.rlim_cur = wanted
    _ = setrlimit(resource, &limit)
}
