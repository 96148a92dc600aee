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

    /// What `self` (a request, such as a skill's SKILL.md) asks for that `grant` (its tools.json entry) does not
    /// give, in words, one item each: paths compared lexically (workspace-relative and absolute are different
    /// spellings), a network rule covered when the grant has a rule that matches its host and every port it
    /// names. Empty when the grant covers the request.
    public func notGranted(by grant: PermissionSet) -> [String] {
        var missing: [String] = []
        let readable = grant.read + grant.write
        for path in read where !Self.path(Self.lexical(path), isInside: readable.map(Self.lexical)) { missing.append("files.read \(path)") }
        for path in write where !Self.path(Self.lexical(path), isInside: grant.write.map(Self.lexical)) { missing.append("files.write \(path)") }
        for rule in network where !grant.network.contains(where: { $0.covers(rule) }) { missing.append("network \(rule)") }
        for name in environment where !grant.environment.contains(name) { missing.append("env \(name)") }
        for name in secrets where !grant.secrets.contains(name) { missing.append("secrets \(name)") }
        if exec, !grant.exec { missing.append("exec") }
        return missing
    }

    /// A path with `.` and empty components removed and without a trailing slash, for comparison.
    private static func lexical(_ path: String) -> String {
        (path.hasPrefix("/") ? "/" : "") + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
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

    /// Whether every connection `other` admits is admitted by this rule too.
    public func covers(_ other: EgressRule) -> Bool {
        if let port, other.port != port { return false }
        if other.host == host { return true }
        guard host.hasPrefix("*.") else { return false }
        // A wildcard covers a name under it, or a narrower wildcard (compared from its dot on).
        let suffix = host.dropFirst(1)
        let name = other.host.hasPrefix("*.") ? other.host.dropFirst(1) : Substring(other.host)
        return name.hasSuffix(suffix) && name.count > suffix.count
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(shownHost):\(port.map(String.init) ?? "*")"
    }
}
