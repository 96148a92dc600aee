import Foundation
import GRDB

/// How a message's trace hops are kept in one SQLite row: one JSON object per line, in the order recorded,
/// `{"hop": …, "at": "yyyy-MM-dd HH:mm:ss.SSS", "ms": …, "detail": {…}}`.
enum TraceLines {
    /// The events of one flush, one group per message in order of first appearance.
    static func grouped(_ events: [TraceEvent]) -> [(messageID: String, startedAt: String, lines: String)] {
        var order: [String] = []
        var groups: [String: (startedAt: String, lines: [String])] = [:]
        for event in events {
            let line = line(event)
            if groups[event.messageID] == nil {
                order.append(event.messageID)
                groups[event.messageID] = (event.at.storedTimestamp, [line])
            } else {
                groups[event.messageID]?.lines.append(line)
            }
        }
        return order.compactMap { id in groups[id].map { (id, $0.startedAt, $0.lines.joined(separator: "\n")) } }
    }

    static func line(_ event: TraceEvent) -> String {
        var object: [String: JSONValue] = ["hop": .string(event.hop), "at": .string(event.at.storedTimestamp)]
        if let durationMs = event.durationMs { object["ms"] = .number(durationMs) }
        // The detail is already JSON text; splice it in rather than parse it back.
        let head = JSONValue.object(object).jsonText
        return String(head.dropLast()) + ",\"detail\":" + (event.detail.isEmpty ? "{}" : event.detail) + "}"
    }

    /// The events of a stored row; a line that cannot be read (never written by this code) is skipped.
    static func events(messageID: String, lines: String) -> [TraceEvent] {
        lines.split(separator: "\n").compactMap { line -> TraceEvent? in
            guard let object = try? JSONValue(parsing: line), let hop = object["hop"]?.stringValue,
                let atText = object["at"]?.stringValue, let at = Date.fromDatabaseValue(atText.databaseValue)
            else { return nil }
            var event = TraceEvent(messageID: messageID, hop: hop, at: at, durationMs: object["ms"]?.numberValue)
            if let detail = object["detail"], case .object = detail { event.detail = detail.jsonText }
            return event
        }
    }
}
