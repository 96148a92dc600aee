import Foundation
import Synchronization

/// When each message was POSTed, acknowledged and answered, in milliseconds since the run's origin.
///
/// Message i comes from chat i % chats, so a chat's messages are c, c + chats, c + 2·chats, … A session answers its
/// messages one turn each, in order, so the k-th reply to chat c answers message c + k·chats. (Replies are matched
/// by chat and order, not by content: while a turn waits, a later message of its chat is already in the
/// transcript, and the echoing provider may answer with that one's text.)
final class MessageTimings: Sendable {
    struct Entry: Sendable {
        var postedMs: Double?
        var acknowledgedMs: Double?
        var status = 0
        var arrivedMs: Double?
    }

    private struct State {
        var entries: [Entry]
        var repliesPerChat: [Int]
    }

    private let state: Mutex<State>
    let chats: Int
    static let firstChatID: Int64 = 10_000

    init(count: Int, chats: Int) {
        self.chats = chats
        state = Mutex(State(entries: Array(repeating: Entry(), count: count), repliesPerChat: Array(repeating: 0, count: chats)))
    }

    /// The text of message `index`: short, so no streamed preview (it starts at 20 characters) is sent.
    static func text(for index: Int) -> String { "q\(index)z" }

    /// The Telegram chat message `index` comes from.
    func chatID(of index: Int) -> Int64 { Self.firstChatID + Int64(index % chats) }

    /// Notes a reply (a `sendMessage`) to `chatID`.
    func replied(to chatID: Int64, at time: Double) {
        let chat = Int(chatID - Self.firstChatID)
        guard (0..<chats).contains(chat) else { return }
        state.withLock { state in
            let index = chat + state.repliesPerChat[chat] * chats
            state.repliesPerChat[chat] += 1
            guard state.entries.indices.contains(index) else { return }
            state.entries[index].arrivedMs = time
        }
    }

    func posted(_ index: Int, at sent: Double, answered acknowledged: Double?, status: Int) {
        state.withLock { state in
            state.entries[index].postedMs = sent
            state.entries[index].acknowledgedMs = acknowledged
            state.entries[index].status = status
        }
    }

    func snapshot(_ range: Range<Int>) -> [Entry] {
        state.withLock { Array($0.entries[range]) }
    }

    /// Waits until every message of `range` has its reply, polling; throws when `timeout` passes first.
    func waitForReplies(_ range: Range<Int>, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ state in state.entries[range].contains { $0.arrivedMs == nil } }) {
            guard ContinuousClock.now < deadline else { throw MissingReplies(count: snapshot(range).filter { $0.arrivedMs == nil }.count) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    struct MissingReplies: Error, CustomStringConvertible {
        var count: Int
        var description: String { "\(count) messages were not answered in time" }
    }
}
