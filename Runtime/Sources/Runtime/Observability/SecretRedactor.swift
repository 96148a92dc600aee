import Synchronization

/// Removes secrets from log text: values registered at run time (tokens, keys, configured secrets) and the
/// values of metadata keys whose names say they hold one.
public final class SecretRedactor: Sendable {
    public static let placeholder = "[REDACTED]"
    private static let sensitiveKeyWords = ["token", "secret", "password", "passwd", "authorization", "cookie", "api_key", "apikey", "signing_key", "private_key"]

    private let secrets = Mutex<Set<String>>([])

    public init() {}

    /// Registers a value that must never appear in logs. Very short values are ignored: redacting them would
    /// mangle ordinary words.
    public func register(_ secret: String) {
        guard secret.count >= 8 else { return }
        secrets.withLock { _ = $0.insert(secret) }
    }

    public static func isSensitiveKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return sensitiveKeyWords.contains { lowered.contains($0) }
    }

    public func redact(_ text: String) -> String {
        let current = secrets.withLock { $0 }
        guard !current.isEmpty else { return text }
        var output = text
        for secret in current where output.contains(secret) {
            output = output.replacing(secret, with: Self.placeholder)
        }
        return output
    }
}
