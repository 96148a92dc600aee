import Foundation
import Testing

@testable import Runtime

/// `swiftlet trace`'s table, from the body the gateway answers.
@Suite struct TraceTimelineTests {
    static func body(_ times: [String]) -> [String: Any] {
        [
            "message": ["id": "m1", "channel": "webchat", "session_key": "webchat:dm:owner", "status": "done", "text": "hi", "received_at": times[0]],
            "events": zip(["received", "routed", "reply.queued"], times).map { hop, at in ["hop": hop, "at": at, "detail": "{}"] },
        ]
    }

    static func offsets(_ rendered: String) -> [String] {
        rendered.split(separator: "\n").drop { !$0.hasPrefix("offset") }.dropFirst().map { String($0.split(separator: " ").first ?? "") }
    }

    @Test("offsets count from the first hop, with times as the gateway writes them (UTC, zone included)")
    func zoned() {
        let rendered = TraceTimeline.render(Self.body(["2026-12-06T10:00:00.100Z", "2026-12-06T10:00:00.150Z", "2026-12-06T10:00:01.350Z"]))
        #expect(Self.offsets(rendered) == ["+0.0ms", "+50.0ms", "+1250.0ms"], "\(rendered)")
    }

    @Test("a time without a zone, as earlier gateways wrote it, is read as UTC")
    func unzoned() {
        let rendered = TraceTimeline.render(Self.body(["2026-12-06T10:00:00.100", "2026-12-06T10:00:00.102", "2026-12-06T10:00:00.600"]))
        #expect(Self.offsets(rendered) == ["+0.0ms", "+2.0ms", "+500.0ms"], "\(rendered)")
    }

    @Test("times parse with and without fractions and zone")
    func parsing() {
        let date = Date(timeIntervalSince1970: 1_796_551_200.125)
        #expect(TraceTimeline.date(from: "2026-12-06T10:00:00.125Z") == date)
        #expect(TraceTimeline.date(from: "2026-12-06T10:00:00.125") == date)
        #expect(TraceTimeline.date(from: "2026-12-06T10:00:00Z") == Date(timeIntervalSince1970: 1_796_551_200))
        #expect(TraceTimeline.date(from: "2026-12-06T10:00:00") == Date(timeIntervalSince1970: 1_796_551_200))
        #expect(TraceTimeline.date(from: "yesterday") == nil)
    }
}
