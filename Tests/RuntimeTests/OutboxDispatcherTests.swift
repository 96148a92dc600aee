import Foundation
import Logging
import Synchronization
import Testing

@testable import Runtime

/// Delivery through the outbox: retries with backoff, permanent failures, idempotency keys, one delivery at a time.
@Suite struct OutboxDispatcherTests {
    /// A channel that fails its first `failures` deliveries, then records what it delivers.
    final class FlakyChannel: ChannelSender {
        let channel = "flaky"
        let failures: Int
        let permanent: Bool
        let attempts = Atomic(0)
        let delivered = Mutex<[String]>([])

        init(failures: Int, permanent: Bool = false) {
            self.failures = failures
            self.permanent = permanent
        }

        func deliver(_ entry: OutboxEntry) async throws {
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            if attempt <= failures {
                if permanent { throw PermanentDeliveryError("chat not found") }
                throw ToolError("platform answered 502")
            }
            delivered.withLock { $0.append(entry.id) }
        }
    }

    static func setUp(_ channel: FlakyChannel, maxAttempts: Int = 5) async throws -> (SQLiteStore, OutboxDispatcher, OutboxEntry) {
        let store = try SQLiteStore(path: SQLiteStoreTests.temporaryPath())
        let logger = Logger(label: "outbox-test")
        let traces = TraceRecorder(store: store, logger: logger)
        let dispatcher = OutboxDispatcher(store: store, traces: traces, logger: logger) {
            GatewayConfig.Outbox(maxAttempts: maxAttempts, retryBase: .milliseconds(10))
        }
        dispatcher.register(channel)
        let entry = OutboxEntry(messageID: "m1", sessionID: "s1", replyMessageID: "m1:a", channel: "flaky", target: "t", body: "hello", kind: .message)
        try await store.finishTurn(TurnEnd(journalIDs: ["m1"], status: .done, transcript: [], outbox: entry))
        return (store, dispatcher, entry)
    }

    @Test func failedDeliveriesAreRetriedUntilTheyGoThroughOnce() async throws {
        let channel = FlakyChannel(failures: 2)
        let (store, dispatcher, entry) = try await Self.setUp(channel)
        await dispatcher.deliverNow(entry)
        var stored = try #require(await store.outboxEntry(id: entry.id))
        #expect(stored.status == .pending)
        #expect(stored.attempts == 1)
        #expect(stored.lastError?.contains("502") == true)
        #expect(stored.nextAttemptAt > entry.createdAt, "the retry waits")

        // Not due yet: nothing is tried.
        #expect(await dispatcher.deliverDue(now: entry.createdAt) == 0)
        // Due: the second try fails too, the third succeeds.
        #expect(await dispatcher.deliverDue(now: Date().addingTimeInterval(60)) == 1)
        #expect(await dispatcher.deliverDue(now: Date().addingTimeInterval(120)) == 1)
        await dispatcher.flushSent()
        stored = try #require(await store.outboxEntry(id: entry.id))
        #expect(stored.status == .sent)
        #expect(stored.attempts == 3)
        #expect(channel.delivered.withLock { $0 } == ["m1:reply"], "delivered once, under its idempotency key")
        // Sent: never tried again.
        #expect(await dispatcher.deliverDue(now: Date().addingTimeInterval(600)) == 0)
        try await store.close()
    }

    @Test func aPermanentFailureIsNotRetried() async throws {
        let channel = FlakyChannel(failures: 1, permanent: true)
        let (store, dispatcher, entry) = try await Self.setUp(channel)
        await dispatcher.deliverNow(entry)
        let stored = try #require(await store.outboxEntry(id: entry.id))
        #expect(stored.status == .failed)
        #expect(stored.lastError == "chat not found")
        #expect(await dispatcher.deliverDue(now: Date().addingTimeInterval(600)) == 0)
        try await store.close()
    }

    @Test func deliveryGivesUpAfterMaxAttempts() async throws {
        let channel = FlakyChannel(failures: 100)
        let (store, dispatcher, entry) = try await Self.setUp(channel, maxAttempts: 3)
        await dispatcher.deliverNow(entry)
        for step in 1...5 { await dispatcher.deliverDue(now: Date().addingTimeInterval(Double(step) * 600)) }
        let stored = try #require(await store.outboxEntry(id: entry.id))
        #expect(stored.status == .failed)
        #expect(stored.attempts == 3)
        #expect(channel.attempts.load(ordering: .relaxed) == 3)
        try await store.close()
    }

    @Test func aReplyInFlightIsNotPickedUpAgain() async throws {
        let channel = FlakyChannel(failures: 0)
        let (store, dispatcher, entry) = try await Self.setUp(channel)
        await dispatcher.deliverNow(entry)
        // Delivered but its mark not yet written: the retry loop must not send it a second time.
        #expect(await dispatcher.deliverDue(now: Date().addingTimeInterval(60)) == 0)
        await dispatcher.deliverNow(entry)
        #expect(channel.attempts.load(ordering: .relaxed) == 1)
        try await store.close()
    }
}
