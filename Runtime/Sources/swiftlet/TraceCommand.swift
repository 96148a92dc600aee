import ArgumentParser
import Foundation
import Runtime

/// `swiftlet trace <message-id>`: the timeline of one message, hop by hop.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Print the timeline of one message: received, routed, model calls, tools, reply queued and sent.")

    @Argument(help: "The message id (chat.send answers it; logs and the dashboard show it).") var messageID: String
    @OptionGroup var options: WorkspaceOptions
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let admin = try await client.connect(options)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_:."))
        guard messageID.unicodeScalars.allSatisfy(allowed.contains) else {
            printError("'\(messageID)' is not a message id")
            throw ExitCode(64)
        }
        let body = try await client.fetch(admin, "/admin/v1/trace/\(messageID)")
        if json {
            printJSON(body)
            return
        }
        print(TraceTimeline.render(body))
    }
}

/// Renders a trace report as a table of offsets from the moment the message was received.
enum TraceTimeline {
    static func render(_ body: [String: Any]) -> String {
        let message = body["message"] as? [String: Any] ?? [:]
        let events = body["events"] as? [[String: Any]] ?? []
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let received = (message["received_at"] as? String).flatMap(parser.date(from:))
        var lines = [
            "message \(message["id"] ?? "?")  channel \(message["channel"] ?? "?")  session \(message["session_key"] ?? "?")  status \(message["status"] ?? "?")",
            "text: \(String((message["text"] as? String ?? "").prefix(120)))",
            "",
            padded("offset", 10) + padded("hop", 18) + padded("took", 10) + "details",
        ]
        for event in events {
            let at = (event["at"] as? String).flatMap(parser.date(from:))
            let offset = zip(at, received).map { String(format: "+%.1fms", $0.timeIntervalSince($1) * 1000) } ?? ""
            let took = (event["duration_ms"] as? Double).map { String(format: "%.1fms", $0) } ?? ""
            var detail = event["detail"] as? String ?? ""
            if detail == "{}" { detail = "" }
            lines.append(padded(offset, 10) + padded(event["hop"] as? String ?? "", 18) + padded(took, 10) + detail)
        }
        if let reply = body["reply"] as? [String: Any] {
            lines.append("")
            lines.append("reply \(reply["status"] ?? "?") after \(reply["attempts"] ?? 0) attempt(s): \(String((reply["body"] as? String ?? "").prefix(160)))")
        }
        return lines.joined(separator: "\n")
    }
}

private func zip(_ a: Date?, _ b: Date?) -> (Date, Date)? {
    guard let a, let b else { return nil }
    return (a, b)
}
