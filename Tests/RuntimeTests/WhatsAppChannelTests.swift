import FakePlatforms
import FakeProviders
import Foundation
import NIOHTTP1
import PluginAPI
import Testing

@testable import Runtime

/// The `whatsapp` channel plugin (libWhatsApp.so): called directly for its pure parts (formatting, error mapping,
/// webhook reading), and through a real gateway against the fake Cloud API for everything end to end.
@Suite struct WhatsAppChannelTests {
    static let webhook = "/channels/whatsapp/webhook"
    static let verifyToken = "verify-me-please"
    static let customer = "15551234567"

    /// A gateway running the whatsapp plugin against `whatsapp`; `channel` is the YAML under `channels.whatsapp`.
    static func withWhatsApp(
        _ whatsapp: FakeWhatsApp, channel: String = "    dm_policy: open", files: [String: Data] = [:],
        _ body: (TestGateway, FakeProvider, FakePlatformServer) async throws -> Void
    ) async throws {
        try await ChannelPluginHarness.run(
            platform: whatsapp.router,
            setup: { server in
                ChannelPluginHarness.Setup(
                    entry: """
                        {"name": "whatsapp", "file": "libWhatsApp.so",
                         "config": {"base_url": "\(server.baseURL)/\(whatsapp.version)", "phone_number_id": "\(whatsapp.phoneNumberID)"},
                         "permissions": {"network": ["127.0.0.1:\(server.port)"],
                                         "secrets": ["whatsapp_access_token", "whatsapp_app_secret", "whatsapp_verify_token"],
                                         "files": {"read": ["media"]}, "timeout_seconds": 30}}
                        """,
                    secrets: [
                        "whatsapp_access_token": whatsapp.accessToken, "whatsapp_app_secret": whatsapp.appSecret, "whatsapp_verify_token": Self.verifyToken,
                    ],
                    config: """
                        channels:
                          whatsapp:
                        \(channel)
                        limits:
                          ip_per_minute: 0
                        outbox:
                          retry_base: 50ms
                        """, files: files)
            }
        ) { gateway, fake, server async throws in
            let status = try #require(ChannelPluginHarness.status(gateway, "whatsapp"))
            try #require(status.state == .loaded, "libWhatsApp.so did not load: \(status.error ?? "?")")
            try await body(gateway, fake, server)
        }
    }

    /// POSTs a notification signed with the app secret.
    static func post(_ gateway: TestGateway, _ whatsapp: FakeWhatsApp, _ notification: [String: Any]) async throws -> TestGateway.Reply {
        let body = FakeWhatsApp.encode(notification)
        return try await gateway.request(
            webhook, method: .POST, headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", whatsapp.signature(for: body))],
            body: String(decoding: body, as: UTF8.self))
    }

    /// The message object the plugin must send for a text.
    static func textMessage(to: String, _ text: String) -> NSDictionary {
        ["messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": ["body": text, "preview_url": false]] as NSDictionary
    }

    // MARK: Pure parts, through the plugin's own entry points

    static let unitConfig = #"{"base_url": "https://graph.test/v21.0", "phone_number_id": "106540352242922"}"#
    static let unitSecrets = ["whatsapp_access_token": "EAAUnit", "whatsapp_app_secret": "unit-app-secret", "whatsapp_verify_token": verifyToken]

    static func unitContext(refusesInbound: Bool = false, _ answer: @escaping @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse = { _ in
        RecordingPluginContext.json(#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.1"}]}"#)
    }) -> RecordingPluginContext {
        RecordingPluginContext(name: "whatsapp", configuration: unitConfig, secrets: unitSecrets, refusesInbound: refusesInbound, http: answer)
    }

    @Test(
        "Markdown is converted to WhatsApp's formatting: bold, italic, strike, links as text, headings, bullets, code kept",
        arguments: [
            ("**bold** and *it* and __b2__ and ~~gone~~", "*bold* and _it_ and *b2* and ~gone~"),
            ("## Plan\nread [the guide](https://x.dev) or [https://y.dev](https://y.dev)", "*Plan*\nread the guide (https://x.dev) or https://y.dev"),
            ("```python\nprint(**1**)\n```", "```\nprint(**1**)\n```"),
            ("a < b && `**raw**`", "a < b && `**raw**`"),
            ("* one\n+ two\n> quoted", "- one\n- two\n> quoted"),
            ("snake_case_name and _it_", "snake_case_name and _it_"),
        ])
    func formatting(markdown: String, expected: String) async throws {
        let plugin = try ChannelPluginHarness.plugin("libWhatsApp.so", name: "whatsapp")
        let context = Self.unitContext()
        _ = try await plugin.send(OutboundMessage(target: "15550001111", text: markdown, idempotencyKey: "k1"), context: context)
        let request = try #require(context.requests.first)
        #expect(request.url == "https://graph.test/v21.0/106540352242922/messages")
        #expect(request.json as NSDictionary == Self.textMessage(to: "15550001111", expected))
    }

    @Test("send failures: the closed 24-hour window and bad requests are final, throttling waits, Meta's outages are retried")
    func sendFailures() async throws {
        struct Unreachable: Error {}
        let plugin = try ChannelPluginHarness.plugin("libWhatsApp.so", name: "whatsapp")
        func graph(_ code: Int, status: Int = 400, headers: [(name: String, value: String)] = []) -> @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse {
            { _ in RecordingPluginContext.json(#"{"error":{"message":"(#\#(code)) x","type":"OAuthException","code":\#(code),"fbtrace_id":"A1"}}"#, status: status, headers: headers) }
        }
        let cases: [(answer: @Sendable (PluginHTTPRequest) throws -> PluginHTTPResponse, retryable: Bool, wait: Double?, says: String)] = [
            (graph(131047), false, nil, "24-hour customer-service window has closed"),
            (graph(130429), true, 60, "error 130429"),
            (graph(130429, status: 429, headers: [("Retry-After", "5")]), true, 5, "error 130429"),
            (graph(131056), true, 60, "error 131056"),
            (graph(80007), true, 60, "error 80007"),
            (graph(4), true, 60, "error 4"),
            (graph(131048), true, 60, "error 131048"),
            (graph(190, status: 401), false, nil, "whatsapp_access_token"),
            (graph(100), false, nil, "error 100"),
            (graph(131026), false, nil, "error 131026"),
            (graph(2, status: 500), true, nil, "error 2"),
            ({ _ in PluginHTTPResponse(status: 503, headers: [], body: Data()) }, true, nil, "HTTP 503"),
            ({ _ in PluginHTTPResponse(status: 429, headers: [], body: Data()) }, true, 60, "HTTP 429"),
            ({ _ in throw Unreachable() }, true, nil, "could not be reached"),
        ]
        for (answer, retryable, wait, says) in cases {
            let context = Self.unitContext(answer)
            do {
                _ = try await plugin.send(OutboundMessage(target: "15550001111", text: "hi", idempotencyKey: "k"), context: context)
                Issue.record("the send succeeded; expected a failure saying \(says)")
            } catch let failure as ChannelSendFailure {
                #expect(failure.retryable == retryable, "\(failure.message)")
                #expect(failure.retryAfterSeconds == wait, "\(failure.message)")
                #expect(failure.message.contains(says), "\(failure.message)")
            }
            let errors = context.logged.filter { $0.level == .error }.map(\.message)
            #expect(errors.count == (says.contains("24-hour") ? 1 : 0), "the closed window, and only it, is logged as an error: \(errors)")
        }
    }

    @Test("the webhook: the GET handshake, signatures, and what a notification turns into")
    func webhookReading() async throws {
        let plugin = try ChannelPluginHarness.plugin("libWhatsApp.so", name: "whatsapp")
        let meta = FakeWhatsApp(appSecret: Self.unitSecrets["whatsapp_app_secret"]!)
        func handshake(_ query: [String: String]) async -> ChannelWebhookResponse {
            await plugin.webhook(ChannelWebhookRequest(method: "GET", query: query), context: Self.unitContext())
        }
        let accepted = await handshake(["hub.mode": "subscribe", "hub.verify_token": Self.verifyToken, "hub.challenge": "1158201444"])
        #expect(accepted.status == 200 && String(decoding: accepted.body, as: UTF8.self) == "1158201444")
        #expect(await handshake(["hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"]).status == 403)
        #expect(await handshake(["hub.mode": "unsubscribe", "hub.verify_token": Self.verifyToken, "hub.challenge": "1"]).status == 403)

        func deliver(_ notification: [String: Any], signature: String? = nil, context: RecordingPluginContext) async -> Int {
            let body = FakeWhatsApp.encode(notification)
            let headers = [(name: "X-Hub-Signature-256", value: signature ?? meta.signature(for: body))]
            return await plugin.webhook(ChannelWebhookRequest(method: "POST", headers: headers, body: body), context: context).status
        }
        let plain = Self.unitContext()
        let message = FakeWhatsApp.text(from: "15550001111", body: "hello", id: "wamid.A")
        #expect(await deliver(meta.notification([message]), signature: "sha256=" + String(repeating: "0", count: 64), context: plain) == 401)
        #expect(await deliver(meta.notification([message]), signature: "", context: plain) == 401)
        #expect(plain.received.isEmpty)
        #expect(await deliver(meta.notification([message]), context: plain) == 200)
        #expect(plain.received == [InboundMessage(externalID: "wamid.A", peer: "15550001111", isGroup: false, sender: "15550001111", text: "hello", replyTarget: "15550001111")])

        let mixed = Self.unitContext()
        let statuses = [FakeWhatsApp.status("delivered", messageID: "wamid.OUT", recipient: "15550001111")]
        #expect(await deliver(meta.notification([], statuses: statuses), context: mixed) == 200)
        #expect(await deliver(meta.notification([FakeWhatsApp.buttonReply(from: "15550001111", title: "Yes, book it", id: "wamid.B")]), context: mixed) == 200)
        #expect(
            await deliver(
                meta.notification([["from": "15550001111", "id": "wamid.C", "type": "location", "location": ["latitude": 52.5, "longitude": 13.4, "name": "Office"]]]),
                context: mixed) == 200)
        #expect(await deliver(meta.notification([["from": "15550001111", "id": "wamid.D", "type": "reaction", "reaction": ["message_id": "wamid.OUT", "emoji": "👍"]]]), context: mixed) == 200)
        let otherNumber = FakeWhatsApp(phoneNumberID: "999", appSecret: meta.appSecret).notification([FakeWhatsApp.text(from: "15550001111", body: "not for us", id: "wamid.E")])
        #expect(await deliver(otherNumber, context: mixed) == 200)
        #expect(mixed.received.map(\.text) == ["Yes, book it", "[location: Office (52.5, 13.4)]"])

        let media = Self.unitContext { request in
            #expect(request.url == "https://graph.test/v21.0/9001")
            #expect(request.headers.first { $0.name == "Authorization" }?.value == "Bearer EAAUnit")
            return RecordingPluginContext.json(#"{"messaging_product":"whatsapp","url":"https://lookaside.test/9001?x=1","mime_type":"image/jpeg","sha256":"ab","file_size":2048,"id":"9001"}"#)
        }
        let image = FakeWhatsApp.media(type: "image", from: "15550001111", mediaID: "9001", mimeType: "image/jpeg", caption: "look", id: "wamid.F")
        #expect(await deliver(meta.notification([image]), context: media) == 200)
        #expect(
            media.received.first?.attachments == [
                InboundAttachment(kind: .image, mimeType: "image/jpeg", declaredSize: 2048, url: "https://lookaside.test/9001?x=1", headers: ["Authorization": "Bearer EAAUnit"])
            ])
        #expect(media.received.first?.text == "look")

        let refusing = Self.unitContext(refusesInbound: true)
        #expect(await deliver(meta.notification([message]), context: refusing) == 500, "a message the gateway cannot take is answered 5xx, so Meta redelivers it")
    }

    // MARK: End to end, through a gateway and the fake Cloud API

    @Test("a customer's message is answered on /messages: exactly this JSON, with the access token")
    func directMessage() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp) { gateway, fake, _ async throws in
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: "hello there", id: "wamid.IN1")])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == 1 })
            let call = try #require(whatsapp.calls.first { $0.path == "/v21.0/\(whatsapp.phoneNumberID)/messages" })
            #expect(call.method == "POST")
            #expect(call.headers["authorization"] == "Bearer \(whatsapp.accessToken)")
            #expect(call.headers["content-type"] == "application/json")
            #expect(call.json.map { $0 as NSDictionary } == Self.textMessage(to: Self.customer, "echo: hello there"))
            #expect(ChannelPluginHarness.lastUserText(fake) == "hello there")
            let journal = try ChannelPluginHarness.journal(gateway, channel: "whatsapp")
            #expect(journal == [.init(id: journal.first?.id ?? "", externalID: "wamid.IN1", sender: Self.customer, text: "hello there", replyTarget: Self.customer)])
        }
    }

    @Test("signatures: missing, wrong secret or another body are refused with 401; nothing reaches the model")
    func signatures() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp) { gateway, fake, _ async throws in
            let body = FakeWhatsApp.encode(whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: "let me in", id: "wamid.SIG")]))
            let text = String(decoding: body, as: UTF8.self)
            func send(_ signature: String?, body: String = text) async throws -> Int {
                try await gateway.request(
                    Self.webhook, method: .POST, headers: [("Content-Type", "application/json")] + (signature.map { [("X-Hub-Signature-256", $0)] } ?? []), body: body
                ).status
            }
            let unsigned = try await send(nil)
            #expect(unsigned == 401)
            #expect(try await send(whatsapp.signature(for: body, secret: "another-secret")) == 401)
            #expect(try await send(whatsapp.signature(for: body), body: text.replacingOccurrences(of: "let me in", with: "let me in!")) == 401)
            #expect(try await send(whatsapp.signature(for: body).replacingOccurrences(of: "sha256=", with: "sha1=")) == 401)
            #expect(fake.requestCount == 0)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "whatsapp").isEmpty)
            #expect(try await send(whatsapp.signature(for: body)) == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == 1 })
        }
    }

    @Test("the GET handshake echoes hub.challenge for the right verify token and refuses a wrong one with 403")
    func verificationHandshake() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp) { gateway, _, _ async throws in
            let right = try await gateway.request(Self.webhook + "?hub.mode=subscribe&hub.verify_token=\(Self.verifyToken)&hub.challenge=1158201444")
            #expect(right.status == 200)
            #expect(right.body == "1158201444")
            let wrong = try await gateway.request(Self.webhook + "?hub.mode=subscribe&hub.verify_token=guessed&hub.challenge=1158201444")
            #expect(wrong.status == 403)
            #expect(!wrong.body.contains("1158201444"))
        }
    }

    @Test("a long reply is split at 4096 characters into consecutive messages")
    func longReplyIsChunked() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp) { gateway, _, _ async throws in
            let words = (1...1500).map { "word\($0)" }.joined(separator: " ")
            let expected = ChannelText.chunks("echo: " + words, limit: 4096)
            #expect(expected.count == 4 && expected.allSatisfy { $0.utf16.count <= 4096 })
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: words)])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == expected.count })
            #expect(whatsapp.sent.map(\.text) == expected)
            #expect(whatsapp.sent.allSatisfy { $0.to == Self.customer && $0.type == "text" })
        }
    }

    @Test("a 429 is retried after its Retry-After; the reply arrives exactly once and the outbox counts two attempts")
    func rateLimitIsRetried() async throws {
        let whatsapp = FakeWhatsApp()
        whatsapp.fail(.messages, with: .rateLimited(retryAfter: 1))
        try await Self.withWhatsApp(whatsapp) { gateway, _, _ async throws in
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: "ping")])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { try ChannelPluginHarness.outbox(gateway, channel: "whatsapp").first?.status == "sent" })
            let posts = whatsapp.calls.filter { $0.path.hasSuffix("/messages") }
            #expect(posts.count == 2)
            if posts.count == 2 { #expect(posts[1].receivedAt.timeIntervalSince(posts[0].receivedAt) >= 0.9, "the retry waited for Retry-After") }
            #expect(whatsapp.sent.map(\.text) == ["echo: ping"])
            #expect(try ChannelPluginHarness.outbox(gateway, channel: "whatsapp").first?.attempts == 2)
        }
    }

    @Test("error 131047 (the 24-hour window closed) fails the reply for good, says why, and is logged as an error")
    func windowClosed() async throws {
        let whatsapp = FakeWhatsApp()
        whatsapp.refuse(recipient: Self.customer, code: 131047)
        try await Self.withWhatsApp(whatsapp) { gateway, _, _ async throws in
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: "are you there?")])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { try ChannelPluginHarness.outbox(gateway, channel: "whatsapp").first?.status == "failed" })
            let entry = try #require(try ChannelPluginHarness.outbox(gateway, channel: "whatsapp").first)
            #expect(entry.attempts == 1, "a closed window is not retried")
            #expect(entry.lastError?.contains("24-hour customer-service window has closed") == true)
            #expect(entry.lastError?.contains("template message") == true)
            #expect(whatsapp.calls.filter { $0.path.hasSuffix("/messages") }.count == 1)
            #expect(whatsapp.sent.isEmpty)
            let log = gateway.workspace.logsDirectory.appendingPathComponent("swiftlet.log")
            #expect(
                try await ChannelPluginHarness.eventually {
                    let lines = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n") ?? []
                    return lines.contains { line in
                        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                        return object?["level"] as? String == "error" && (object?["message"] as? String)?.contains("24-hour") == true
                    }
                })
        }
    }

    @Test("a customer's image is looked up, downloaded with the token into media/inbound/whatsapp and described to the model")
    func inboundMedia() async throws {
        let whatsapp = FakeWhatsApp()
        let bytes = Data((0..<3000).map { UInt8($0 % 253) })
        whatsapp.hostMedia(id: "1503209990001", bytes: bytes, mimeType: "image/jpeg")
        try await Self.withWhatsApp(whatsapp) { gateway, fake, _ async throws in
            let image = FakeWhatsApp.media(type: "image", from: Self.customer, mediaID: "1503209990001", mimeType: "image/jpeg", caption: "what is this?")
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([image])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { fake.requestCount == 1 })
            let lookup = try #require(whatsapp.calls.first { $0.path == "/v21.0/1503209990001" })
            #expect(lookup.method == "GET" && lookup.headers["authorization"] == "Bearer \(whatsapp.accessToken)")
            let download = try #require(whatsapp.calls.first { $0.path == "/whatsapp-media/1503209990001" })
            #expect(download.headers["authorization"] == "Bearer \(whatsapp.accessToken)")
            let folder = gateway.workspace.path("media/inbound/whatsapp")
            let saved = try #require(FileManager.default.subpaths(atPath: folder.path)?.first { $0.hasSuffix("-image.jpg") })
            #expect(try Data(contentsOf: folder.appendingPathComponent(saved)) == bytes)
            #expect(ChannelPluginHarness.lastUserText(fake) == "what is this?\n[attachment image: media/inbound/whatsapp/\(saved) (image/jpeg, 3 KB)]")
        }
    }

    @Test("a reply's MEDIA file is uploaded as multipart and sent as an image with the text as its caption")
    func outboundMedia() async throws {
        let whatsapp = FakeWhatsApp()
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 100))
        try await Self.withWhatsApp(whatsapp, files: ["media/out/chart.png": png]) { gateway, _, _ async throws in
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: Self.customer, body: "chart\nMEDIA: media/out/chart.png")])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == 1 })
            let upload = try #require(whatsapp.uploads.first)
            #expect(upload.bytes == png && upload.mimeType == "image/png" && upload.fileName == "chart.png" && upload.declaredType == "image/png")
            let expected: NSDictionary = [
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": Self.customer, "type": "image", "image": ["id": upload.id, "caption": "echo: chart"],
            ]
            #expect(whatsapp.sent.first.map { $0.json as NSDictionary } == expected)
            #expect(whatsapp.calls.filter { $0.path.hasSuffix("/messages") }.count == 1, "the caption carries the text: no separate text message")
        }
    }

    @Test("a stranger (default dm_policy pairing) gets the pairing code on WhatsApp and never reaches the model")
    func pairingCode() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp, channel: "    dm_policy: pairing") { gateway, fake, _ async throws in
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([FakeWhatsApp.text(from: "15559998888", body: "hello?")])).status == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == 1 })
            let listing = try await gateway.request("/admin/v1/pairing?channel=whatsapp", token: gateway.controlToken)
            let pending = try #require((listing.json["pairing"] as? [[String: Any]])?.first { $0["sender"] as? String == "15559998888" })
            let code = try #require(pending["code"] as? String)
            #expect(whatsapp.sent[0].to == "15559998888")
            #expect(whatsapp.sent[0].text?.contains(code) == true)
            #expect(fake.requestCount == 0)
        }
    }

    @Test("a redelivered notification is answered once; statuses are ignored; a button tap reaches the model as its title")
    func redeliveryStatusesAndButtons() async throws {
        let whatsapp = FakeWhatsApp()
        try await Self.withWhatsApp(whatsapp) { gateway, fake, _ async throws in
            let notification = whatsapp.notification([FakeWhatsApp.buttonReply(from: Self.customer, title: "Yes, book it", id: "wamid.BTN")])
            #expect(try await Self.post(gateway, whatsapp, notification).status == 200)
            #expect(try await ChannelPluginHarness.eventually { whatsapp.sent.count == 1 })
            #expect(ChannelPluginHarness.lastUserText(fake) == "Yes, book it")
            #expect(try await Self.post(gateway, whatsapp, notification).status == 200)
            let sentID = whatsapp.sent[0].id
            #expect(try await Self.post(gateway, whatsapp, whatsapp.notification([], statuses: [FakeWhatsApp.status("read", messageID: sentID, recipient: Self.customer)])).status == 200)
            #expect(try ChannelPluginHarness.journal(gateway, channel: "whatsapp").map(\.externalID) == ["wamid.BTN"])
            #expect(try ChannelPluginHarness.outbox(gateway, channel: "whatsapp").count == 1)
            #expect(fake.requestCount == 1)
            #expect(whatsapp.sent.map(\.text) == ["echo: Yes, book it"])
        }
    }
}
