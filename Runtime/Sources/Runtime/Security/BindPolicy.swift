/// Decides whether the gateway may listen on an address with the configured authentication.
///
/// Pure: the rule is that anything reachable from another machine needs control-plane auth.
public enum BindPolicy {
    /// True for `localhost`, `127.0.0.0/8`, `::1` and its long forms.
    public static func isLoopback(_ host: String) -> Bool {
        let trimmed = host.trimmingPrefix("[").split(separator: "]").first.map(String.init) ?? host
        if trimmed == "localhost" { return true }
        let octets = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) { return octets[0] == "127" }
        if trimmed.contains(":") {
            let groups = trimmed.split(separator: ":", omittingEmptySubsequences: true)
            // ::1, 0:0:0:0:0:0:0:1 and ::ffff:127.x.y.z all mean this machine.
            if let last = groups.last, groups.dropLast().allSatisfy({ Int($0, radix: 16) == 0 }), Int(last, radix: 16) == 1 { return true }
            if groups.count >= 2, groups[groups.count - 2].lowercased() == "ffff", groups.dropLast(2).allSatisfy({ Int($0, radix: 16) == 0 }) {
                return isLoopback(String(groups[groups.count - 1]))
            }
        }
        return false
    }

    /// Returns nil when the combination is allowed, or the reason it is refused.
    public static func refusal(bind: String, auth: GatewayConfig.AuthMode) -> String? {
        guard auth == .none, !isLoopback(bind) else { return nil }
        return "refusing to listen on \(bind) without authentication: anyone who can reach this address "
            + "could drive the gateway. Keep gateway.auth: token (the default), or bind to 127.0.0.1."
    }
}
