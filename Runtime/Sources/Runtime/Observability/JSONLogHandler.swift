public import Logging
import Foundation

/// A swift-log handler writing one JSON object per line:
/// `{"timestamp","level","service","trace_id","message","metadata","source"}`.
///
/// `trace_id` is lifted out of the metadata so a message can be followed across log lines. Metadata values
/// under sensitive key names are replaced by `[REDACTED]`, and registered secrets are removed from the text.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private var levelOverride: Logger.Level?
    let label: String
    let sink: LogSink

    public init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
    }

    public var logLevel: Logger.Level {
        get { levelOverride ?? sink.currentLevel }
        set { levelOverride = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let traceID = merged.removeValue(forKey: "trace_id").map { "\($0)" }
        sink.write(Entry(date: Date(), level: event.level, service: label, traceID: traceID, message: "\(event.message)", metadata: merged, source: event.source))
    }

    struct Entry {
        var date: Date
        var level: Logger.Level
        var service: String
        var traceID: String?
        var message: String
        var metadata: Logger.Metadata
        var source: String

        func json() -> String {
            var object: [String: Any] = [
                "timestamp": Entry.timestamp(date),
                "level": level.rawValue,
                "service": service,
                "message": message,
                "source": source,
            ]
            if let traceID { object["trace_id"] = traceID }
            if !metadata.isEmpty { object["metadata"] = Entry.plain(metadata) }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(data: data, encoding: .utf8) ?? "{}"
        }

        func text() -> String {
            let details = Entry.plain(metadata).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let trace = traceID.map { " [\($0)]" } ?? ""
            return "\(Entry.timestamp(date)) \(level.rawValue.uppercased()) \(service)\(trace): \(message)" + (details.isEmpty ? "" : " " + details)
        }

        static func plain(_ metadata: Logger.Metadata) -> [String: Any] {
            metadata.reduce(into: [:]) { result, item in
                result[item.key] = SecretRedactor.isSensitiveKey(item.key) ? SecretRedactor.placeholder : plain(item.value)
            }
        }

        static func plain(_ value: Logger.Metadata.Value) -> Any {
            switch value {
            case .string(let text): text
            case .stringConvertible(let convertible): convertible.description
            case .array(let values): values.map(plain)
            case .dictionary(let dictionary): plain(dictionary)
            }
        }

        static func timestamp(_ date: Date) -> String {
            date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        }
    }
}
