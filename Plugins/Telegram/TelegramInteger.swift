import Foundation

/// Bot API integers (chat, user and message ids, offsets, sizes) read strictly from JSONSerialization's output.
///
/// `NSNumber.int64Value` wraps what does not fit: 2^63 and 1e308 both become -9223372036854775808, and 5.5 becomes 5.
/// Chat ids are up to 52 bits today and every id is documented as an integer, so anything else is a broken or
/// forged update, refused rather than turned into some other chat's id (or into 0, which the journal then took
/// for a duplicate).
enum TelegramInteger {
    /// The integer `value` holds exactly, when it is a JSON number with an integral value in Int64's range; nil
    /// for strings, booleans, fractions and numbers out of range.
    static func exact(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber else { return nil }
        // JSON true and false arrive as NSNumber too, encoded as C chars.
        guard String(cString: number.objCType) != "c" else { return nil }
        // The bridge refuses a UInt64 above Int64.max and a double that is not an integer in range, but clamps a
        // decimal below Int64.min (JSONSerialization's type for large negative numbers): those are compared exactly.
        guard let integer = value as? Int64 else { return nil }
        if let decimal = number as? NSDecimalNumber, decimal.decimalValue != Decimal(integer) { return nil }
        return integer
    }

    /// `value` as an Int (64 bits on every platform the gateway runs on), or nil as ``exact(_:)``.
    static func int(_ value: Any?) -> Int? {
        exact(value).flatMap { Int(exactly: $0) }
    }

    /// How a refused value is named in a log line: its JSON text, shortened.
    static func describe(_ value: Any?) -> String {
        guard let value else { return "missing" }
        if let text = value as? String { return "the string \"\(text.prefix(40))\"" }
        if let number = value as? NSNumber, String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return String("\(value)".prefix(40))
    }
}
