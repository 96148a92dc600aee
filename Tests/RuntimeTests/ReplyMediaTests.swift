import Foundation
import PluginAPI
import Testing

@testable import Runtime

/// `MEDIA:` lines of an answer: the files a reply sends, and what a streamed preview shows meanwhile.
@Suite struct ReplyMediaTests {
    @Test(
        "a preview leaves out MEDIA lines and a last line that may be becoming one",
        arguments: [
            ("Here is the chart you asked for.\nMEDIA: media/chart.png", "Here is the chart you asked for."),
            ("Here is the chart you asked for.\nMED", "Here is the chart you asked for."),
            ("Here is the chart you asked for.\n  MEDIA: /tmp/x", "Here is the chart you asked for."),
            ("MEDIA: a.png\nThe file above.", "The file above."),
            ("Mediation is a process.", "Mediation is a process."),
            ("Line one\nMedian values", "Line one\nMedian values"),
        ])
    func previewText(text: String, expected: String) {
        #expect(ReplyMedia.previewText(text) == expected)
    }

    @Test("files inside the workspace are attached; outside, missing or a directory stay out and the reply says why")
    func extract() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("reply-media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace.appendingPathComponent("media"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }
        try Data("png".utf8).write(to: workspace.appendingPathComponent("media/chart.png"))
        let answer = "Done.\nMEDIA: media/chart.png\nMEDIA: /etc/passwd\nMEDIA: media/missing.pdf\nMEDIA: media"
        let extracted = ReplyMedia.extract(answer, workspace: workspace)
        #expect(extracted.attachments.map(\.fileName) == ["chart.png"])
        #expect(extracted.attachments.first?.mimeType == "image/png")
        #expect(extracted.attachments.first?.kind == .image)
        #expect(extracted.problems.count == 3)
        #expect(
            extracted.text
                == "Done.\n(/etc/passwd was not sent: only files inside the workspace can be sent)\n(media/missing.pdf was not sent: no such file)\n(media was not sent: no such file)")
    }
}
