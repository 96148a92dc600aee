/// What one plugin, tool or skill may reach: its tools.json `permissions`. Everything not listed is denied.
///
/// Pure values and decisions; the callers resolve paths and hosts before asking.
public struct PermissionSet: Sendable, Equatable {
    /// Folders (or single files) that may be read, as written in tools.json (workspace-relative or absolute).
    public var read: [String] = []
    /// Folders (or single files) that may be written; writable implies readable.
    public var write: [String] = []
    public var network: [EgressRule] = []
    public var environment: [String] = []
    public var secrets: [String] = []
    /// Whether the code may start subprocesses (enforced for isolated plugins and skills by the sandbox).
    public var exec = false
    public var timeoutSeconds: Double = 30
    public var memoryMB = 512

    public init() {}

    /// Nothing at all: the default of an entry without `permissions`.
    public static let none = PermissionSet()

    public func allowsEnvironment(_ name: String) -> Bool { environment.contains(name) }
    public func allowsSecret(_ name: String) -> Bool { secrets.contains(name) }

    public func allowsEgress(host: String, port: Int) -> Bool {
        network.contains { $0.matches(host: host, port: port) }
    }

    /// Whether a resolved absolute path lies inside one of the resolved roots (the root itself included).
    ///
    /// Component-wise, so `/data/notes` does not admit `/data/notes-private`.
    public static func path(_ path: String, isInside roots: [String]) -> Bool {
        let components = Self.components(path)
        guard !components.contains(where: { $0 == ".." || $0 == "." }) else { return false }
        return roots.contains { root in
            let rootComponents = Self.components(root)
            return components.count >= rootComponents.count && Array(components.prefix(rootComponents.count)) == rootComponents
        }
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}

/// One `host:port` of `permissions.network`. `*.example.com` matches subdomains (not `example.com` itself);
/// `*` as the port matches any port.
public struct EgressRule: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    /// nil for any port.
    public var port: Int?

    /// Parses `host:port`, `[v6]:port`, `*.domain:port` or `host:*`; nil when malformed.
    public init?(_ text: String) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains(" "), !hostPart.contains("/") else { return nil }
        if hostPart.contains("*"), !(hostPart.hasPrefix("*.") && hostPart.dropFirst(2).allSatisfy { $0 != "*" } && hostPart.count > 2) { return nil }
        if portPart == "*" {
            port = nil
        } else {
            guard let number = Int(portPart), (1...65535).contains(number) else { return nil }
            port = number
        }
        host = hostPart.lowercased()
    }

    public func matches(host candidate: String, port candidatePort: Int) -> Bool {
        if let port, port != candidatePort { return false }
        let candidate = candidate.lowercased().trimmingSuffix(".")
        if host.hasPrefix("*.") { return candidate.hasSuffix(host.dropFirst(1)) && candidate.count > host.count - 1 }
        return candidate == host
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(shownHost):\(port.map(String.init) ?? "*")"
    }
}
