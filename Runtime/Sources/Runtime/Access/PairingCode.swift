/// The code a stranger receives to be paired: 8 characters from an alphabet without look-alikes (no 0, O, 1,
/// I), drawn from the system's cryptographic random source: 32⁸ ≈ 10¹² codes, so guessing one of the few
/// pending codes of a channel is hopeless.
public enum PairingCode {
    public static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let length = 8

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    static func make(using generator: inout some RandomNumberGenerator) -> String {
        String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// A code as an owner may type it (lower case, with spaces or dashes) in its stored form; nil when it cannot be
    /// one (wrong length, or a character the alphabet does not have).
    public static func normalized(_ typed: String) -> String? {
        let code = typed.uppercased().filter { $0 != " " && $0 != "-" }
        guard code.count == length, code.allSatisfy(alphabet.contains) else { return nil }
        return code
    }
}
