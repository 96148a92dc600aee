import Foundation
import PluginAPI

/// The network check every plugin connection passes first (HTTP and WebSocket alike): the URL's scheme, then its
/// host and port against the entry's `permissions.network`, then where the host name resolves.
enum PluginEgress {
    /// The host (without IPv6 brackets) and port `url` connects to, when the entry allows it.
    /// - Parameters:
    ///   - schemes: the accepted schemes and their default ports (`["http": 80, "https": 443]`).
    ///   - kind: what the URL must be, for the error (`an http or https URL`).
    static func admit(_ url: String, schemes: [String: Int], kind: String, permissions: PermissionSet) async throws -> (host: String, port: Int) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let defaultPort = schemes[scheme], let host = parsed.host,
            !host.isEmpty
        else {
            throw ToolFailure("not \(kind): \(url)")
        }
        let port = parsed.port ?? defaultPort
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        guard permissions.allowsEgress(host: bareHost, port: port) else {
            throw PluginAccessDenied(permission: "network", subject: "\(bareHost):\(port)")
        }
        // A whitelisted name must not lead inside: an address literal or `localhost` names the inside on purpose,
        // any other name that resolves to a private address is refused. (The connection resolves the name again;
        // a DNS server that changes its answer in between is only stopped by process isolation.)
        if PrivateAddress.mustResolve(bareHost) {
            let addresses = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: PrivateAddress.resolve(bareHost)) }
            }
            if let inside = addresses.first(where: { PrivateAddress.isPrivate($0) && !permissions.allowsEgress(host: $0, port: port) }) {
                throw PluginAccessDenied(
                    permission: "network", subject: "\(bareHost):\(port) (it resolves to the private address \(inside); list \(inside):\(port) to allow that)")
            }
        }
        return (bareHost, port)
    }
}
