import Crypto
import Foundation

/// The long-lived control token: 128 random bits as 32 hex characters, stored only as a SHA-256 hash.
public enum ControlToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// The stored form: hex SHA-256 of the token text.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// True for text shaped like a control token (32 lowercase hex characters).
    public static func looksLikeControlToken(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Random key material for signing dashboard tokens, as 64 hex characters.
    public static func generateSigningKey() -> String {
        generate() + generate()
    }
}
