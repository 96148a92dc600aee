import Foundation

/// Renders `GET /admin/v1/trace/{id}` as `swiftlet trace` prints it: a table of hops with their offsets from the
/// first hop, their own durations and details.
///
/// Times are ISO 8601 with a zone (`2026-12-06T10:00:00.123Z`), as the gateway writes them; a time without a zone,
/// as earlier gateways wrote it, is read as UTC, so their traces show offsets too.
public enum TraceTimeline {
    public static func render(_ body: [String: Any]) -> String {
        let message = body["message"] as? [String: Any] ?? [:]
        let events = body["events"] as? [[String: Any]] ?? []
        let times = events.map { ($0["at"] as? String).flatMap(date(from:)) }
        let origin = times.compactMap { $0 }.first ?? (message["received_at"] as? String).flatMap(date(from:))
        var lines = [
            "message \(message["id"] ?? "?")  channel \(message["channel"] ?? "?")  session \(message["session_key"] ?? "?")"
                + "  status \(message["status"] ?? "?")",
            "text: \(String((message["text"] as? String ?? "").prefix(120)))",
            "",
            column("offset", 10) + column("hop", 18) + column("took", 10) + "details",
        ]
        for (event, at) in zip(events, times) {
            let offset = at.flatMap { at in origin.map { String(format: "+%.1fms", at.timeIntervalSince($0) * 1000) } } ?? ""
            let took = (event["duration_ms"] as? Double).map { String(format: "%.1fms", $0) } ?? ""
            var detail = event["detail"] as? String ?? ""
            if detail == "{}" { detail = "" }
            lines.append(column(offset, 10) + column(event["hop"] as? String ?? "", 18) + column(took, 10) + detail)
        }
        if let reply = body["reply"] as? [String: Any] {
            lines.append("")
            let body = String((reply["body"] as? String ?? "").prefix(160))
            lines.append("reply \(reply["status"] ?? "?") after \(reply["attempts"] ?? 0) attempt(s): \(body)")
        }
        return lines.joined(separator: "\n")
    }

    /// An ISO 8601 time to the millisecond, with or without a zone (without one it is UTC).
    static func date(from text: String) -> Date? {
        for candidate in [text, text + "Z"] {
            for style in [Date.ISO8601FormatStyle(includingFractionalSeconds: true), Date.ISO8601FormatStyle()] {
                if let date = try? style.parse(candidate) { return date }
            }
        }
        return nil
    }

    /// `text` left-aligned in a column of `width` characters, with at least one space after it.
    private static func column(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
