import Foundation
import GRDB
import Testing

@testable import Runtime

@Suite("Stored timestamps")
struct StoredTimestampTests {
    /// GRDB's own text (its formatter rounds to the nearest millisecond) for a date, the format every row written before the fast formatter holds.
    private func grdbText(_ date: Date) -> String? {
        String.fromDatabaseValue(date.databaseValue)
    }

    @Test("matches GRDB's DateFormatter text to the millisecond over four centuries")
    func matchesGRDB() {
        var generator = SystemRandomNumberGenerator()
        // 1800 to 2200, plus the edges where day, month, year and leap-year arithmetic turn over.
        var dates: [Date] = (0..<20_000).map { _ in Date(timeIntervalSince1970: Double.random(in: -5_364_662_400...7_258_118_400, using: &generator)) }
        dates += [
            0, -0.001, -1, 86_399.999, 86_400, 951_782_399.999, 951_782_400, 951_868_800, 4_107_542_400, 1_767_225_599.999, 1_767_225_600,
            -2_208_988_800.5, 1_709_164_800, 86_399.999_6, 1_767_225_599.999_7,
        ].map(Date.init(timeIntervalSince1970:))
        for date in dates {
            #expect(date.storedTimestamp == grdbText(date), "\(date.timeIntervalSince1970)")
        }
    }

    @Test("reads back through GRDB as the same instant, to the nearest millisecond")
    func readsBack() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123_9)
        let decoded = try #require(Date.fromDatabaseValue(date.storedTimestamp.databaseValue))
        #expect(abs(decoded.timeIntervalSince1970 - 1_795_000_000.124) < 0.000_5)
    }
}
