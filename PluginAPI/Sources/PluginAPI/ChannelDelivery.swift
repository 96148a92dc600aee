public import Foundation

/// How many steps of one reply (text parts, then files) a channel has delivered, kept in the plugin's store while
/// a reply of several steps goes out, so a retry after a partial delivery continues where it stopped instead of
/// repeating what the user already has.
///
/// ```swift
/// let progress = DeliveryProgress(store: context.store, key: message.idempotencyKey, steps: parts.count + files.count)
/// var done = await progress.load()
/// for (index, part) in parts.enumerated() where index >= done {
///     try await post(part)
///     done += 1
///     await progress.save(done)
/// }
/// await progress.clear()
/// ```
public struct DeliveryProgress: Sendable {
    let store: any PluginKeyValueStore
    let key: String
    /// Only replies of several steps are tracked: a single step is either delivered or not.
    let tracked: Bool

    /// - Parameters:
    ///   - key: the outbox's idempotency key of the reply.
    ///   - steps: how many sends the reply takes.
    public init(store: any PluginKeyValueStore, key: String, steps: Int) {
        self.store = store
        self.key = "delivered:" + key
        self.tracked = steps > 1
    }

    /// The steps an earlier attempt delivered (0 when none, or when the store cannot say).
    public func load() async -> Int {
        guard tracked else { return 0 }
        return (try? await store.get(key)).flatMap { Int($0) } ?? 0
    }

    public func save(_ done: Int) async {
        guard tracked else { return }
        try? await store.set(key, String(done))
    }

    /// Forgets the count once the whole reply is out.
    public func clear() async {
        guard tracked else { return }
        try? await store.remove(key)
    }
}

extension OutboundAttachment {
    /// The file's bytes through the plugin's `files.read` permission; a file that cannot be read fails the reply
    /// at once (retrying cannot make it readable), saying which permission to grant.
    public func contents(_ context: any PluginContext) throws(ChannelSendFailure) -> Data {
        do {
            return try context.files.read(path)
        } catch let denied as PluginAccessDenied {
            throw ChannelSendFailure("\(fileName) cannot be sent: \(denied) (grant files.read on its folder, e.g. media)", retryable: false)
        } catch {
            throw ChannelSendFailure("\(fileName) cannot be read: \(error)", retryable: false)
        }
    }
}
