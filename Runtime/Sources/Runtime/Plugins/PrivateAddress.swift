import Foundation

/// Addresses a plugin may not reach through a host name: loopback, private, link-local, shared (CGNAT),
/// unique-local and unspecified ranges. A whitelisted public name that resolves into one of them (a DNS answer
/// pointing inside, or rebinding) is refused unless the whitelist names the address itself.
enum PrivateAddress {
    /// Whether `address` (dotted IPv4 or IPv6 text) lies in a range that only the local network can reach.
    static func isPrivate(_ address: String) -> Bool {
        if let bytes = ipv4(address) { return isPrivateIPv4(bytes) }
        guard let bytes = ipv6(address) else { return true }  // Unparseable: refuse rather than guess.
        if bytes[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if bytes[0] & 0xFE == 0xFC { return true }  // fc00::/7 unique local
        if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { return true }  // fe80::/10 link local
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return isPrivateIPv4(Array(bytes[12..<16])) }  // ::ffff:a.b.c.d
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return isPrivateIPv4(Array(bytes[12..<16])) }  // ::a.b.c.d (IPv4-compatible)
        if bytes[0..<12].elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return isPrivateIPv4(Array(bytes[12..<16])) }  // 64:ff9b::/96 NAT64
        if bytes[0] == 0xFF { return true }  // ff00::/8 multicast
        return false
    }

    /// Whether a whitelisted `host` must be resolved and checked: not for an address literal or `localhost`,
    /// which name the inside on purpose.
    static func mustResolve(_ host: String) -> Bool {
        ipv4(host) == nil && ipv6(host) == nil && host.lowercased() != "localhost"
    }

    private static func isPrivateIPv4(_ b: [UInt8]) -> Bool {
        b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 169 && b[1] == 254) || (b[0] == 172 && b[1] & 0xF0 == 16) || (b[0] == 192 && b[1] == 168)
            || (b[0] == 100 && b[1] & 0xC0 == 64) || b[0] >= 224 || (b[0] == 192 && b[1] == 0 && b[2] == 0) || (b[0] == 198 && b[1] & 0xFE == 18)
    }

    private static func ipv4(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    private static func ipv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    /// The addresses `host` resolves to (getaddrinfo), as text; empty when it does not resolve.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
