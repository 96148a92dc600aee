/// The sending half of a channel: delivers one outbox entry.
///
/// Called from the outbox dispatcher, possibly again for the same entry after a failure or a restart;
/// `entry.id` is the idempotency key, so a channel that can tell the platform about it (or remember it)
/// never shows a reply twice. Throwing schedules a retry.
public protocol ChannelSender: Sendable {
    var channel: String { get }
    func deliver(_ entry: OutboxEntry) async throws
}

/// A delivery failure that retrying cannot fix (unknown chat, blocked bot): the entry is failed at once.
public struct PermanentDeliveryError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A delivery the platform asked to try again later (a 429 with `retry_after`): the next attempt waits at least
/// `retryAfter` seconds, whatever the backoff says.
public struct DeliveryDeferred: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var retryAfter: Double

    public init(_ description: String, retryAfter: Double) {
        self.description = description
        self.retryAfter = retryAfter
    }
}

/// A channel that can show an answer while it is written (the web chat). Streamed text is a preview;
/// the outbox delivery that follows is the answer.
public protocol StreamingChannel: ChannelSender {
    func stream(_ event: Agent.Event, for entry: JournalEntry)
}
