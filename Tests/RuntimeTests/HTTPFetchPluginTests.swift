import Foundation
import Hummingbird
import Logging
import Testing

@testable import Runtime

@Suite("http_fetch plugin and the private-address guard")
struct HTTPFetchPluginTests {
    /// A local site: a page, JSON, a large body, a redirect, an image.
    static func withSite(_ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.get("page") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: """
                            <html><head><title>T</title><style>p { color: red }</style></head><body>
                            <script>alert("no")</script><h1>Opening&nbsp;hours</h1><p>Mon&ndash;Fri 9&ndash;17 &amp; Sat &#x31;0&#45;12</p>
                            <ul><li>Coffee</li><li>Tea</li></ul><!-- hidden --></body></html>
                            """)))
        }
        router.get("data") { _, _ in Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#))) }
        router.get("big") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: String(repeating: "x", count: 4096)))) }
        router.get("moved") { _, _ in Response(status: .found, headers: [.location: "http://example.com/elsewhere"]) }
        router.get("image") { _, _ in Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0]))) }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "site")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    @Test("pages become text, JSON and text pass through, binary is described, redirects are not followed, size is capped")
    func fetches() async throws {
        try await Self.withSite { port in
            let fixture = try await PluginLoaderTests.Fixture(
                entries: #"{"name": "http_fetch", "file": "libHTTPFetch.so", "permissions": {"network": ["127.0.0.1:\#(port)"], "timeout_seconds": 10}}"#)
            let base = "http://127.0.0.1:\(port)"
            let page = await fixture.call("http_fetch", #"{"url": "\#(base)/page"}"#)
            #expect(!page.isError)
            #expect(page.output == "HTTP 200\n\nOpening hours\nMon–Fri 9–17 & Sat 10-12\n\n- Coffee\n- Tea")
            #expect(await fixture.call("http_fetch", #"{"url": "\#(base)/data"}"#) == ("HTTP 200\n\n{\"ok\":true}", false))
            #expect(await fixture.call("http_fetch", #"{"url": "\#(base)/image"}"#) == ("HTTP 200, 5 bytes of image/png (not shown)", false))
            let moved = await fixture.call("http_fetch", #"{"url": "\#(base)/moved"}"#)
            #expect(moved.output.hasPrefix("HTTP 302, redirect to http://example.com/elsewhere (not followed)"))
            let big = await fixture.call("http_fetch", #"{"url": "\#(base)/big", "max_bytes": 1024}"#)
            #expect(big.isError && big.output.contains("fetching \(base)/big failed"))
            let elsewhere = await fixture.call("http_fetch", #"{"url": "http://127.0.0.2:\#(port)/page"}"#)
            #expect(elsewhere.isError && elsewhere.output.contains("127.0.0.2:\(port) is not allowed by network"))
            #expect(await fixture.call("http_fetch", #"{"url": "ftp://127.0.0.1/x"}"#) == ("error: not an http or https URL: ftp://127.0.0.1/x", true))
            try await fixture.close()
        }
    }

    @Test("private, loopback, link-local, shared and unique-local addresses are recognised; public ones are not")
    func privateRanges() {
        for address in ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
            "::1", "::", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::10.0.0.1", "64:ff9b::a00:1", "ff02::1", "192.0.0.8", "198.18.0.1", "198.19.255.255",
            "not-an-address"]
        {
            #expect(PrivateAddress.isPrivate(address), "\(address)")
        }
        for address in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "198.20.0.1", "192.0.2.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            #expect(!PrivateAddress.isPrivate(address), "\(address)")
        }
        #expect(!PrivateAddress.mustResolve("127.0.0.1") && !PrivateAddress.mustResolve("::1") && !PrivateAddress.mustResolve("LOCALHOST"))
        #expect(PrivateAddress.mustResolve("example.com"))
        #expect(PrivateAddress.resolve("127.0.0.1") == ["127.0.0.1"])
    }
}
