import Foundation
import HummingbirdWSClient

/// What became of one chat message.
enum MessageOutcome: Sendable {
    /// Answered with `chat.message`.
    case replied(ReplyTiming)
    /// Refused (`ok:false`), answered with `chat.error`, or lost; `code` is the gateway's or the driver's.
    case failed(code: String)
}

/// Timings of one answered message, in milliseconds.
struct ReplyTiming: Sendable {
    /// Send to the final event, as the client saw it.
    var clientMs: Double
    /// The gateway's `total_ms`, when it reported timings.
    var totalMs: Double?
    /// The gateway's `provider_ms`, when it reported timings.
    var providerMs: Double?
}

/// Error codes the driver gives to failures the gateway did not name.
enum DriverErrorCode {
    static let requestFailed = "request_failed"
    static let missingMessageID = "missing_message_id"
    static let timeout = "timeout"
    static let connectionClosed = "connection_closed"
    static let notSent = "not_sent"
}

/// Sends chat messages on one socket, one at a time, and reads each to its final event.
///
/// Events for other messages may arrive in between and are ignored; a final event that arrives before the
/// response naming its message is kept until the response does.
struct ChatExchange {
    /// Thrown when the connection closes while a message is awaiting its answer.
    struct ConnectionClosed: Error {}

    private let outbound: WebSocketOutboundWriter
    private let encoder = JSONEncoder()
    private var requestCount = 0

    init(outbound: WebSocketOutboundWriter) {
        self.outbound = outbound
    }

    mutating func send(_ text: String, reading reader: inout FrameReader) async throws -> MessageOutcome {
        requestCount += 1
        let requestID = "c\(requestCount)"
        let request = String(decoding: try encoder.encode(ChatSendRequest(id: requestID, text: text)), as: UTF8.self)
        let sentAt = ContinuousClock.now
        try await outbound.write(.text(request))

        var messageID: String?
        var early: [String: FinalEvent] = [:]
        while let frame = try await reader.next() {
            // A refusal without an id (the gateway could not read it) can only be ours: one request is in flight.
            if frame.type == "res", frame.id == requestID || (frame.id == nil && frame.ok == false) {
                guard frame.ok == true else { return .failed(code: frame.error?.code ?? DriverErrorCode.requestFailed) }
                guard let id = frame.result?.messageID else { return .failed(code: DriverErrorCode.missingMessageID) }
                if let final = early[id] { return Self.outcome(final, sentAt: sentAt) }
                messageID = id
            } else if let (inReplyTo, final) = frame.finalEvent {
                if let messageID {
                    if inReplyTo == messageID { return Self.outcome(final, sentAt: sentAt) }
                } else {
                    early[inReplyTo] = final
                }
            }
        }
        throw ConnectionClosed()
    }

    private static func outcome(_ final: FinalEvent, sentAt: ContinuousClock.Instant) -> MessageOutcome {
        switch final {
        case .reply(let timings):
            .replied(ReplyTiming(clientMs: milliseconds(sentAt.duration(to: .now)), totalMs: timings?.totalMs, providerMs: timings?.providerMs))
        case .error(let code):
            .failed(code: code)
        }
    }
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
}
