import AsyncHTTPClient
import FakePlatforms
import Foundation
import Hummingbird
import NIOCore
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

/// `MediaInbox`: files that come with inbound messages, fetched through a channel's `PluginHTTP`.
@Suite struct MediaInboxTests {
    @Test("a file larger than media.max_size is cut off while streaming (no declared size) and described, not saved; a small one is saved")
    func sizeLimitWhileStreaming() async throws {
        let router = Router(context: FakePlatformContext.self)
        router.get("big") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 7, count: 3000))) }
        router.get("small") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 7, count: 500))) }
        try await FakePlatformServer.withServer(router) { server in
            let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("media-inbox-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: workspace) }
            var grant = PermissionSet()
            grant.network = ["127.0.0.1:\(server.port)"].compactMap(EgressRule.init)
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let inbox = MediaInbox(workspace: workspace, settings: GatewayConfig.Media(maxSize: 1000, directory: "media/inbound"))
            let saved = await inbox.fetch(
                [InboundAttachment(kind: .document, fileName: "big.bin", url: server.baseURL + "/big"), InboundAttachment(kind: .image, mimeType: "image/png", url: server.baseURL + "/small")],
                channel: "test", messageKey: "m1", http: PluginHTTP(client: client, permissions: grant))
            try await client.shutdown()
            #expect(saved[0].path == nil)
            #expect(saved[0].problem == "not downloaded: larger than media.max_size (1 KB)")
            let small = try #require(saved[1].path)
            #expect(small.hasSuffix("/m1-2-image.png"))
            #expect(try Data(contentsOf: workspace.appendingPathComponent(small)).count == 500)
        }
    }
}
