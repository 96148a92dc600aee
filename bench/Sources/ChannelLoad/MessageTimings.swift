import Foundation
import Synchronization

/// When each message was POSTed, acknowledged and answered, in milliseconds since the run's origin.
final class MessageTimings: Sendable {
    struct Entry: Sendable {
        var postedMs: Double?
        var acknowledgedMs: Double?
        var status = 0
        var arrivedMs: Double?
    }

    private let entries: Mutex<[Entry]>
    private let answered = Atomic<Int>(0)

    init(count: Int) {
        entries = Mutex(Array(repeating: Entry(), count: count))
    }

    /// The text of message `index`: short (a preview starts at 20 characters) and findable in the echoed reply.
    static func text(for index: Int) -> String { "q\(index)z" }

    /// The message index a reply echoes, if any.
    static func index(in text: String) -> Int? {
        guard let start = text.firstIndex(of: "q") else { return nil }
        let digits = text[text.index(after: start)...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, text[digits.endIndex...].first == "z" else { return index(in: String(text[text.index(after: start)...])) }
        return Int(digits)
    }

    func posted(_ index: Int, at sent: Double, answered acknowledged: Double?, status: Int) {
        entries.withLock { entries in
            entries[index].postedMs = sent
            entries[index].acknowledgedMs = acknowledged
            entries[index].status = status
        }
    }

    /// The first reply that echoes message `index` (a later one would be a duplicate and is not timed).
    func arrived(_ index: Int, at time: Double) {
        let first = entries.withLock { entries -> Bool in
            guard entries.indices.contains(index), entries[index].arrivedMs == nil else { return false }
            entries[index].arrivedMs = time
            return true
        }
        if first { answered.add(1, ordering: .relaxed) }
    }

    func snapshot(_ range: Range<Int>) -> [Entry] {
        entries.withLock { Array($0[range]) }
    }

    /// Waits until every message of `range` has its reply, polling; throws when `timeout` passes first.
    func waitForReplies(_ range: Range<Int>, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while entries.withLock({ entries in entries[range].contains { $0.arrivedMs == nil } }) {
            guard ContinuousClock.now < deadline else { throw MissingReplies(count: snapshot(range).filter { $0.arrivedMs == nil }.count) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    struct MissingReplies: Error, CustomStringConvertible {
        var count: Int
        var description: String { "\(count) messages were not answered in time" }
    }
}
