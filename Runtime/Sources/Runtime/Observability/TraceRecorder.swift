import Foundation
public import Logging
import Synchronization

/// Buffers trace events and writes them in batches, off the message path.
///
/// Recording never waits for the disk; ``flush()`` runs every 100 ms from the gateway's services and once
/// more at shutdown, so `swiftlet trace` sees a hop at most that late.
public final class TraceRecorder: Sendable {
    static let maxBuffered = 200_000
    private let buffer = Mutex<[TraceEvent]>([])
    private let store: any GatewayStore
    private let logger: Logger

    public init(store: any GatewayStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func record(_ messageID: String, _ hop: String, durationMs: Double? = nil, _ detail: [String: JSONValue] = [:]) {
        let event = TraceEvent(messageID: messageID, hop: hop, durationMs: durationMs, detail: detail)
        buffer.withLock { $0.append(event) }
    }

    public func flush() async {
        let events = buffer.withLock { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !events.isEmpty else { return }
        do {
            try await store.appendTrace(events)
        } catch {
            // Kept for the next flush, ahead of newer events, up to a bound so a dead store cannot eat memory.
            let kept = buffer.withLock { buffer in
                buffer.insert(contentsOf: events, at: 0)
                if buffer.count > Self.maxBuffered { buffer.removeFirst(buffer.count - Self.maxBuffered) }
                return buffer.count
            }
            logger.error("trace write failed; events kept for the next try", metadata: ["error": "\(error)", "buffered": "\(kept)"])
        }
    }
}
