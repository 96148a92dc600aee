import PluginAPI

/// The previews this bot has in its chats (streamed, edited-in-place drafts of an answer) that no final reply has
/// replaced yet, kept in the plugin's store.
///
/// The gateway tracks a preview only in memory. After a crash or a stop in the middle of an answer, the turn runs
/// again and its reply cannot replace the old draft, which would stay in the chat as a half-written second answer.
/// What this ledger still holds when the plugin starts is such a draft, and is deleted.
///
/// Isolation: an actor; the store is written in the order the ledger changes (each write waits for the one before),
/// so a late write never brings back an entry that was closed.
actor TelegramPreviewLedger {
    struct Entry: Hashable, Sendable {
        var chatID: Int64
        var messageID: Int
    }

    static let key = "previews.open"

    private let store: any PluginKeyValueStore
    private var entries: Set<Entry> = []
    private var writing: Task<Void, Never>?

    init(store: any PluginKeyValueStore) {
        self.store = store
    }

    /// Takes over what an earlier process left in the store: the stale previews, which are no longer tracked here.
    func takeStale() async -> [Entry] {
        let text = (try? await store.get(Self.key)) ?? nil ?? ""
        let stale = Self.decode(text).subtracting(entries)
        await persist()
        return stale.sorted { ($0.chatID, $0.messageID) < ($1.chatID, $1.messageID) }
    }

    /// A preview was sent.
    func opened(_ entry: Entry) async {
        guard entries.insert(entry).inserted else { return }
        await persist()
    }

    /// A preview was replaced by its reply, or deleted.
    func closed(_ entry: Entry) async {
        guard entries.remove(entry) != nil else { return }
        await persist()
    }

    private func persist() async {
        let text = entries.map { "\($0.chatID):\($0.messageID)" }.sorted().joined(separator: ",")
        let (previous, store) = (writing, store)
        let write = Task {
            await previous?.value
            try? await store.set(Self.key, text)
        }
        writing = write
        await write.value
    }

    static func decode(_ text: String) -> Set<Entry> {
        Set(
            text.split(separator: ",").compactMap { pair in
                let parts = pair.split(separator: ":")
                guard parts.count == 2, let chat = Int64(parts[0]), let message = Int(parts[1]) else { return nil }
                return Entry(chatID: chat, messageID: message)
            })
    }
}
