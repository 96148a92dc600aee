/// The head of a request a sandboxed skill sends its proxy, and where it wants to go. Pure.
///
/// Two forms are served: `CONNECT host:port` (HTTPS and any other TCP protocol tunnelled through), and a plain
/// HTTP request in absolute form (`GET http://host[:port]/path HTTP/1.1`), forwarded in origin form.
struct EgressRequest: Sendable, Equatable {
    var host: String
    var port: Int
    var tunnel: Bool
    /// For a plain HTTP request: its head as the origin server must receive it.
    var forwardedHead: String?

    /// The largest head accepted.
    static let maxHeadBytes = 16 << 10

    enum Refusal: Error, Equatable {
        case malformed(String)
    }

    static func parse(_ head: String) throws(Refusal) -> EgressRequest {
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let parts = (lines.first ?? "").split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { throw .malformed("not an HTTP/1 request line") }
        let method = parts[0]
        let target = parts[1]
        if method == "CONNECT" {
            guard let (host, port) = authority(target, defaultPort: nil) else { throw .malformed("CONNECT needs host:port") }
            return EgressRequest(host: host, port: port, tunnel: true, forwardedHead: nil)
        }
        guard target.lowercased().hasPrefix("http://") else {
            throw .malformed("only CONNECT and http:// URLs go through this proxy (HTTPS clients use CONNECT)")
        }
        let rest = target.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let (host, port) = authority(rest[..<slash], defaultPort: 80) else { throw .malformed("bad host in \(target)") }
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let head = (["\(method) \(path) \(parts[2])"] + lines.dropFirst().map(String.init)).joined(separator: "\r\n")
        return EgressRequest(host: host, port: port, tunnel: false, forwardedHead: head)
    }

    /// `host:port`, `[v6]:port`, or `host` with a default port.
    static func authority(_ text: Substring, defaultPort: Int?) -> (String, Int)? {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        if host.contains("@") { return nil }
        host = host.hasSuffix(".") ? host.dropLast() : host
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || "-.:_".contains($0) }) else { return nil }
        let port: Int
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else { return nil }
            port = number
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        return (host.lowercased(), port)
    }

    /// The refusal of a host:port the grant does not list (checked before the name is looked up).
    static func notGranted(_ request: EgressRequest, permissions: PermissionSet) -> EgressDenied? {
        permissions.allowsEgress(host: request.host, port: request.port)
            ? nil : EgressDenied(status: 403, reason: "\(request.host):\(request.port) is not in this skill's permissions.network")
    }

    /// Where the proxy may connect for `request` under `permissions`, given what the host name resolves to: an
    /// address, or why not. A name that resolves to any private address is refused unless that address is
    /// listed itself; the connection then goes to the address checked here, so DNS cannot change it in between.
    static func decide(_ request: EgressRequest, permissions: PermissionSet, resolved: [String]) -> Result<String, EgressDenied> {
        if let denied = notGranted(request, permissions: permissions) { return .failure(denied) }
        guard PrivateAddress.mustResolve(request.host) else {
            return .success(request.host.lowercased() == "localhost" ? "127.0.0.1" : request.host)
        }
        guard !resolved.isEmpty else { return .failure(EgressDenied(status: 502, reason: "\(request.host) does not resolve")) }
        if let inside = resolved.first(where: { PrivateAddress.isPrivate($0) && !permissions.allowsEgress(host: $0, port: request.port) }) {
            return .failure(
                EgressDenied(status: 403, reason: "\(request.host) resolves to the private address \(inside); list \(inside):\(request.port) to allow that"))
        }
        return .success(resolved[0])
    }
}

struct EgressDenied: Error, Equatable {
    var status: Int
    var reason: String

    /// The answer the skill's client receives.
    var response: String {
        let phrase = status == 403 ? "Forbidden" : status == 400 ? "Bad Request" : "Bad Gateway"
        let body = "swiftlet: \(reason)\n"
        return "HTTP/1.1 \(status) \(phrase)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }
}
