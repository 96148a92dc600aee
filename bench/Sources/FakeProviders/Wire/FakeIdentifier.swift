/// Random identifiers in the shape each API uses (`chatcmpl-…`, `call_…`, `msg_01…`, `toolu_01…`).
enum FakeIdentifier {
    private static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `prefix` followed by `length` random letters and digits.
    static func make(_ prefix: String, length: Int) -> String {
        Self.make(prefix, length: length, alphabet: Self.alphanumerics)
    }

    /// `length` random lower-case hexadecimal digits, as in a content digest.
    static func hex(length: Int) -> String {
        Self.make("", length: length, alphabet: Self.hexDigits)
    }

    private static func make(_ prefix: String, length: Int, alphabet: [UInt8]) -> String {
        // One system random seed per identifier, stretched with SplitMix64: the system generator
        // costs a syscall per draw on Linux, which shows at thousands of requests a second.
        var state = UInt64.random(in: .min ... .max)
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            bytes.append(alphabet[Int(mixed % UInt64(alphabet.count))])
        }
        return prefix + String(decoding: bytes, as: UTF8.self)
    }
}
