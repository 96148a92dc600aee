import Foundation

/// Tells the model the current date and time, which it cannot know on its own.
public struct CurrentTimeTool: AgentTool {
    public init() {}

    public var definition: ToolDefinition {
        ToolDefinition(
            name: "current_time",
            description: "The current date and time. Optional argument timezone: an IANA name such as Europe/Paris; default the gateway's local zone.",
            parameters: .object([
                "type": .string("object"),
                "properties": .object(["timezone": .object(["type": .string("string"), "description": .string("IANA time zone name")])]),
            ]))
    }

    public func run(arguments: JSONValue, context: ToolContext) async throws -> String {
        var zone = TimeZone.current
        if let name = arguments["timezone"]?.stringValue, !name.isEmpty {
            guard let named = TimeZone(identifier: name) else { throw ToolError("unknown time zone '\(name)'; use an IANA name such as Europe/Paris") }
            zone = named
        }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        formatter.formatOptions = [.withInternetDateTime]
        let weekday = DateFormatter()
        weekday.locale = Locale(identifier: "en_US_POSIX")
        weekday.timeZone = zone
        weekday.dateFormat = "EEEE"
        let now = Date()
        return "\(formatter.string(from: now)) (\(weekday.string(from: now)), time zone \(zone.identifier))"
    }
}
