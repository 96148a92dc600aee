import Foundation

extension Date {
    /// The text GRDB stores for a `Date` ("yyyy-MM-dd HH:mm:ss.SSS", UTC), written without a `DateFormatter`.
    ///
    /// The message path binds about twenty timestamps per message (journal, transcript, outbox, usage, trace
    /// hops), and ICU's formatter was 3 % of the gateway's CPU under load. Rows written this way read back
    /// as `Date` through GRDB as before, and sort the same.
    var storedTimestamp: String {
        // Rounded half up from the Unix-epoch product, as Foundation's formatter does, so both agree to the millisecond.
        let millisecondsSinceEpoch = (timeIntervalSince1970 * 1000 + 0.5).rounded(.down)
        guard millisecondsSinceEpoch.isFinite, abs(millisecondsSinceEpoch) < 200_000_000_000_000 else { return "9999-12-31 23:59:59.999" }
        let total = Int64(millisecondsSinceEpoch)
        let seconds = total >= 0 || total % 1000 == 0 ? total / 1000 : total / 1000 - 1
        let milliseconds = Int(total - seconds * 1000)
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        var bytes = [UInt8](repeating: 0, count: 23)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var value = value
            for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                bytes[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(Int(year), at: 0, digits: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, digits: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, digits: 2)
        bytes[10] = UInt8(ascii: " ")
        put(Int(secondOfDay / 3600), at: 11, digits: 2)
        bytes[13] = UInt8(ascii: ":")
        put(Int(secondOfDay / 60 % 60), at: 14, digits: 2)
        bytes[16] = UInt8(ascii: ":")
        put(Int(secondOfDay % 60), at: 17, digits: 2)
        bytes[19] = UInt8(ascii: ".")
        put(milliseconds, at: 20, digits: 3)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Year, month and day of the proleptic Gregorian calendar for a day count from 1970-01-01
    /// (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
