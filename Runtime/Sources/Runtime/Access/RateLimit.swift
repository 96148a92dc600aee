import Foundation
import Synchronization

/// Token buckets by key: each key may take `perMinute` tokens a minute, in bursts of up to as many. Pure: the
/// caller passes the time, so tests step it.
public struct RateBuckets: Sendable {
    /// One limit to pass: a key (`sender:telegram:42`) and its rate; a rate of 0 means no limit.
    public struct Limit: Sendable, Equatable {
        public var scope: String
        public var key: String
        public var perMinute: Int

        public init(scope: String, key: String, perMinute: Int) {
            self.scope = scope
            self.key = key
            self.perMinute = perMinute
        }
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused by `scope`; a token is back after `retryAfter` seconds. `notify` is true for the first refusal
        /// since the key last passed, so the sender is told once rather than at every message.
        case limited(scope: String, retryAfter: Double, notify: Bool)
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var updated: Double
        var told: Bool
    }

    private var buckets: [String: Bucket] = [:]
    private var insertsSinceSweep = 0
    /// Buckets kept before full ones (idle keys) are swept.
    public var sweepThreshold = 20_000

    public init() {}

    public var count: Int { buckets.count }

    /// Takes one token from every limit, or none when any of them is empty (checked first to last).
    public mutating func take(_ limits: [Limit], now: Double) -> Decision {
        var refilled: [(String, Bucket)] = []
        for limit in limits where limit.perMinute > 0 {
            let capacity = Double(limit.perMinute)
            let rate = capacity / 60
            var bucket = buckets[limit.key] ?? Bucket(tokens: capacity, updated: now, told: false)
            bucket.tokens = min(capacity, bucket.tokens + max(0, now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1 {
                let notify = !bucket.told
                bucket.told = true
                store(limit.key, bucket)
                // Refills of the limits checked before this one are kept; nothing was taken from them.
                for (key, earlier) in refilled { store(key, earlier) }
                return .limited(scope: limit.scope, retryAfter: (1 - bucket.tokens) / rate, notify: notify)
            }
            refilled.append((limit.key, bucket))
        }
        for (key, var bucket) in refilled {
            bucket.tokens -= 1
            bucket.told = false
            store(key, bucket)
        }
        return .allowed
    }

    private mutating func store(_ key: String, _ bucket: Bucket) {
        if buckets.updateValue(bucket, forKey: key) == nil {
            insertsSinceSweep += 1
            if buckets.count > sweepThreshold, insertsSinceSweep > sweepThreshold / 4 { sweep(now: bucket.updated) }
        }
    }

    /// Drops buckets idle long enough to be full again: forgetting them changes no decision.
    private mutating func sweep(now: Double) {
        insertsSinceSweep = 0
        // A bucket refills completely within 60 s whatever its rate.
        buckets = buckets.filter { now - $0.value.updated < 60 }
    }
}

/// The gateway's rate limits, shared by every channel and the public HTTP routes.
public final class RateLimiter: Sendable {
    private let buckets = Mutex(RateBuckets())
    private let start = ContinuousClock.now

    public init() {}

    public func take(_ limits: [RateBuckets.Limit]) -> RateBuckets.Decision {
        let now = (ContinuousClock.now - start).milliseconds / 1000
        return buckets.withLock { $0.take(limits, now: now) }
    }

    /// The limits an inbound message passes: global, its channel, its sender on that channel.
    public static func messageLimits(channel: String, sender: String, config: GatewayConfig.Limits) -> [RateBuckets.Limit] {
        [
            .init(scope: "global", key: "global", perMinute: config.globalPerMinute),
            .init(scope: "channel", key: "channel:\(channel)", perMinute: config.channelPerMinute),
            .init(scope: "sender", key: "sender:\(channel):\(sender)", perMinute: config.senderPerMinute),
        ]
    }

    /// The polite answer to a limited message.
    public static func notice(scope: String, retryAfter: Double) -> String {
        let wait = max(1, Int(retryAfter.rounded(.up)))
        switch scope {
        case "sender": return "You are sending messages faster than I can take them. Please wait \(wait) s; messages sent before then are not read."
        default: return "I am receiving more messages than I can take right now. Please try again in \(wait) s; messages sent before then are not read."
        }
    }
}
