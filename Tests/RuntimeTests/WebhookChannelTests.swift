import AsyncHTTPClient
import FakePlatforms
import FakeProviders
import Foundation
import NIOHTTP1
import Testing

@testable import Runtime

/// The generic webhook channel (`POST /hooks/<name>`) through a real gateway, and the access policy and rate
/// limits every channel goes through.
@Suite struct WebhookChannelTests {
    static let secret = "hook-secret-0123456789"

    /// A signed request to `/hooks/<name>`.
    static func post(
        _ gateway: TestGateway, hook: String = "alerts", _ json: [String: Any], secret: String? = secret, timestamp: Date = Date(), extraHeaders: [(String, String)] = []
    ) async throws -> TestGateway.Reply {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        var headers = extraHeaders
        if let secret {
            let stamp = String(Int(timestamp.timeIntervalSince1970))
            headers += [("X-Swiftlet-Timestamp", stamp), ("X-Swiftlet-Signature", HookAuth.signature(secret: secret, timestamp: stamp, body: Data(body.utf8)))]
        }
        return try await gateway.request("/hooks/\(hook)", method: .POST, headers: headers + [("Content-Type", "application/json")], body: body)
    }

    static func withHookGateway(_ channelConfig: String, limits: String = "", _ body: @Sendable (TestGateway, FakeProvider) async throws -> Void) async throws {
        try await MessagePathTests.withGateway(
            extraConfig: """
                channels:
                  alerts:
                    hook:
                      secret: \(secret)
                      token: tok-abc
                \(channelConfig)
                limits:
                  ip_per_minute: 0
                \(limits)
                """, body)
    }

    @Test("signatures: valid passes; wrong, stale, missing and a wrong token are refused with 401 and their reason")
    func signatures() throws {
        let hook = GatewayConfig.Hook(secret: "s3cret", token: "", callbackURL: "", replyTimeout: .seconds(1))
        let body = Data(#"{"a":1}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let stamp = "1800000000"
        let good = HookAuth.signature(secret: "s3cret", timestamp: stamp, body: body)
        #expect(good.hasPrefix("sha256=") && good.count == 7 + 64)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: stamp, authorization: nil, body: body, now: now) == nil)
        #expect(HookAuth.check(hook: hook, signature: good.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256="), timestamp: stamp, authorization: nil, body: body, now: now) == nil)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: stamp, authorization: nil, body: Data(#"{"a":2}"#.utf8), now: now) == .signatureInvalid)
        let old = HookAuth.signature(secret: "s3cret", timestamp: "1799999000", body: body)
        #expect(HookAuth.check(hook: hook, signature: old, timestamp: "1799999000", authorization: nil, body: body, now: now) == .signatureStale)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: "1799999999", authorization: nil, body: body, now: now) == .signatureInvalid)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: stamp, authorization: nil, body: body, now: now.addingTimeInterval(301)) == .signatureStale)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: stamp, authorization: nil, body: body, now: now.addingTimeInterval(299)) == nil)
        #expect(HookAuth.check(hook: hook, signature: good, timestamp: "soon", authorization: nil, body: body, now: now) == .signatureStale)
        #expect(HookAuth.check(hook: hook, signature: nil, timestamp: nil, authorization: nil, body: body, now: now) == .missing)
        // A token is not accepted where only a secret is configured.
        #expect(HookAuth.check(hook: hook, signature: nil, timestamp: nil, authorization: "Bearer s3cret", body: body, now: now) == .missing)
        let tokenHook = GatewayConfig.Hook(secret: "", token: "tok", callbackURL: "", replyTimeout: .seconds(1))
        #expect(HookAuth.check(hook: tokenHook, signature: nil, timestamp: nil, authorization: "Bearer tok", body: body, now: now) == nil)
        #expect(HookAuth.check(hook: tokenHook, signature: nil, timestamp: nil, authorization: "Bearer tok2", body: body, now: now) == .tokenInvalid)
        #expect(HookAuth.check(hook: tokenHook, signature: good, timestamp: stamp, authorization: nil, body: body, now: now) == .missing)
    }

    @Test("message bodies: what is wrong is said")
    func messageParsing() throws {
        func problem(_ text: String) -> String? {
            if case .failure(let error) = HookMessage.parse(Data(text.utf8)) { return error.message }
            return nil
        }
        #expect(problem("not json")?.contains("JSON object") == true)
        #expect(problem(#"{"text":"hi"}"#)?.contains("sender") == true)
        #expect(problem(#"{"sender":"a","text":"  "}"#)?.contains("text") == true)
        #expect(problem(#"{"sender":"a","text":"hi","reply":"later"}"#)?.contains("reply") == true)
        #expect(problem(#"{"sender":"a","text":"hi","id":5}"#)?.contains("id") == true)
        let parsed = try HookMessage.parse(Data(#"{"sender":"a","text":"hi","id":"e1","reply":"callback","group":"g","mentioned":true}"#.utf8)).get()
        #expect(parsed == HookMessage(sender: "a", text: "hi", id: "e1", reply: .callback, group: "g", mentioned: true, thread: nil))
    }

    @Test("rate buckets: a burst up to the rate, refill over the minute, one notice per refusal streak, nothing taken when one limit refuses")
    func rateBuckets() {
        var buckets = RateBuckets()
        let limits = [RateBuckets.Limit(scope: "global", key: "g", perMinute: 100), .init(scope: "sender", key: "s", perMinute: 3)]
        for _ in 0..<3 { #expect(buckets.take(limits, now: 0) == .allowed) }
        guard case .limited(let scope, let wait, let notify) = buckets.take(limits, now: 0) else {
            Issue.record("the fourth message passed")
            return
        }
        #expect(scope == "sender" && notify && abs(wait - 20) < 0.01)
        guard case .limited(_, let later, false) = buckets.take(limits, now: 1) else {
            Issue.record("the fifth message passed or was noticed again")
            return
        }
        #expect(abs(later - 19) < 0.01)
        #expect(buckets.take(limits, now: 20) == .allowed)
        #expect(buckets.take(limits, now: 20.5).isLimited)
        // The global bucket gave only the 4 tokens that passed.
        var other = RateBuckets()
        let global = [RateBuckets.Limit(scope: "global", key: "g", perMinute: 2)]
        #expect(other.take(global, now: 0) == .allowed)
        #expect(other.take([global[0], .init(scope: "sender", key: "x", perMinute: 0)], now: 0) == .allowed)
        #expect(other.take(global, now: 0).isLimited)
        // Unlimited (0) never refuses.
        for _ in 0..<1000 { #expect(other.take([.init(scope: "ip", key: "i", perMinute: 0)], now: 0) == .allowed) }
        // Idle keys are swept once the map grows.
        var many = RateBuckets()
        many.sweepThreshold = 100
        for index in 0..<300 { _ = many.take([.init(scope: "sender", key: "k\(index)", perMinute: 5)], now: Double(index)) }
        #expect(many.count < 200)
    }

    @Test("a signed message is answered in the response; a redelivery gets the same reply; bad requests get clear errors")
    func syncReplyAndErrors() async throws {
        try await Self.withHookGateway("    dm_policy: open") { gateway, _ in
            let answered = try await Self.post(gateway, ["sender": "ci", "text": "build 42 failed", "id": "evt-1"])
            #expect(answered.status == 200)
            #expect(answered.json["status"] as? String == "answered")
            #expect(answered.json["reply"] as? String == "echo: build 42 failed")
            let messageID = try #require(answered.json["message_id"] as? String)

            let again = try await Self.post(gateway, ["sender": "ci", "text": "build 42 failed", "id": "evt-1"])
            #expect(again.status == 200)
            #expect(again.json["status"] as? String == "duplicate")
            #expect(again.json["message_id"] as? String == messageID)
            #expect(again.json["reply"] as? String == "echo: build 42 failed")

            let token = try await Self.post(gateway, ["sender": "ci", "text": "by token"], secret: nil, extraHeaders: [("Authorization", "Bearer tok-abc")])
            #expect(token.json["reply"] as? String == "echo: by token")

            let unsigned = try await Self.post(gateway, ["sender": "ci", "text": "x"], secret: nil)
            #expect(unsigned.status == 401)
            #expect((unsigned.json["error"] as? [String: Any])?["code"] as? String == "auth_missing")
            let forged = try await Self.post(gateway, ["sender": "ci", "text": "x"], secret: "another-secret")
            #expect((forged.json["error"] as? [String: Any])?["code"] as? String == "signature_invalid")
            let stale = try await Self.post(gateway, ["sender": "ci", "text": "x"], timestamp: Date().addingTimeInterval(-600))
            #expect(stale.status == 401)
            #expect((stale.json["error"] as? [String: Any])?["code"] as? String == "signature_stale")
            let wrongToken = try await Self.post(gateway, ["sender": "ci", "text": "x"], secret: nil, extraHeaders: [("Authorization", "Bearer nope")])
            #expect((wrongToken.json["error"] as? [String: Any])?["code"] as? String == "token_invalid")
            let invalid = try await Self.post(gateway, ["sender": "ci"])
            #expect(invalid.status == 400)
            #expect((invalid.json["error"] as? [String: Any])?["code"] as? String == "invalid_message")
            let unknown = try await Self.post(gateway, hook: "nope", ["sender": "ci", "text": "x"])
            #expect(unknown.status == 404)

            // The reply can be read back later, with the same authentication.
            let stamp = String(Int(Date().timeIntervalSince1970))
            let read = try await gateway.request(
                "/hooks/alerts/replies/\(messageID)",
                headers: [("X-Swiftlet-Timestamp", stamp), ("X-Swiftlet-Signature", HookAuth.signature(secret: Self.secret, timestamp: stamp, body: Data()))])
            #expect(read.json["reply"] as? String == "echo: build 42 failed")
            let readUnsigned = try await gateway.request("/hooks/alerts/replies/\(messageID)")
            #expect(readUnsigned.status == 401)
            // Nothing refused reached the model: 3 messages were answered.
            let counts = try await gateway.state.store.counts()
            #expect(counts.messages == 4)
        }
    }

    @Test("pairing over a webhook: a code, the same code again, approval lets the sender in; a fourth stranger waits; a rejected one is ignored")
    func pairingFlow() async throws {
        try await Self.withHookGateway("") { gateway, fake in
            let first = try await Self.post(gateway, ["sender": "stranger-1", "text": "hello?"])
            #expect(first.status == 403)
            #expect(first.json["status"] as? String == "not_admitted")
            let reply = try #require(first.json["reply"] as? String)
            let code = try #require(reply.split(separator: " ").map { $0.trimmingCharacters(in: .punctuationCharacters) }.first { PairingCode.normalized($0) == $0 && $0.count == 8 })
            let second = try await Self.post(gateway, ["sender": "stranger-1", "text": "hello again"])
            #expect((second.json["reply"] as? String)?.contains(code) == true)
            #expect(fake.requestCount == 0, "a stranger's messages never reach the model")

            for index in 2...3 { #expect(try await Self.post(gateway, ["sender": "stranger-\(index)", "text": "hi"]).status == 403) }
            let fourth = try await Self.post(gateway, ["sender": "stranger-4", "text": "hi"])
            #expect(fourth.json["reason"] as? String == "too many pending")
            #expect(fourth.json["reply"] as? String == ChannelAccess.busyMessage)

            let approve = try await gateway.request("/admin/v1/pairing/approve?channel=alerts&code=\(code)", method: .POST, token: gateway.controlToken)
            #expect(approve.status == 200)
            let admitted = try await Self.post(gateway, ["sender": "stranger-1", "text": "now?"])
            #expect(admitted.json["reply"] as? String == "echo: now?")

            let listing = try await gateway.request("/admin/v1/pairing?channel=alerts", token: gateway.controlToken)
            let pending = (listing.json["pairing"] as? [[String: Any]] ?? []).filter { $0["state"] as? String == "pending" }
            let rejectCode = try #require(pending.first { $0["sender"] as? String == "stranger-2" }?["code"] as? String)
            #expect(try await gateway.request("/admin/v1/pairing/reject?channel=alerts&code=\(rejectCode)", method: .POST, token: gateway.controlToken).status == 200)
            let rejected = try await Self.post(gateway, ["sender": "stranger-2", "text": "please"])
            #expect(rejected.status == 403)
            #expect(rejected.json["reply"] == nil)
            let audit = try await gateway.state.store.auditEvents(type: nil, limit: 100).map(\.eventType)
            #expect(audit.filter { $0 == "pairing.issued" }.count == 3)
            #expect(audit.contains("pairing.too_many_pending") && audit.contains("pairing.approved") && audit.contains("pairing.rejected"))
        }
    }

    @Test("allowlist and groups: allow_from passes, others are refused with a reply; in a group only a mention is answered")
    func allowlistAndGroups() async throws {
        try await Self.withHookGateway(
            """
                dm_policy: allowlist
                allow_from: [alice]
            """
        ) { gateway, _ in
            #expect(try await Self.post(gateway, ["sender": "alice", "text": "hi"]).json["reply"] as? String == "echo: hi")
            let bob = try await Self.post(gateway, ["sender": "bob", "text": "hi"])
            #expect(bob.status == 403)
            #expect((bob.json["reply"] as? String)?.isEmpty == false)
            let unmentioned = try await Self.post(gateway, ["sender": "bob", "text": "chatter", "group": "ops"])
            #expect(unmentioned.status == 403)
            #expect(unmentioned.json["reason"] as? String == "not mentioned in a group")
            #expect(unmentioned.json["reply"] == nil)
            let mentioned = try await Self.post(gateway, ["sender": "bob", "text": "@bot status", "group": "ops", "mentioned": true])
            #expect(mentioned.json["reply"] as? String == "echo: @bot status")
        }
    }

    @Test("rate limits: the sender's limit answers 429 with Retry-After and a polite message; the per-IP limit guards the public routes")
    func rateLimits() async throws {
        try await Self.withHookGateway("    dm_policy: open", limits: "  sender_per_minute: 2") { gateway, fake in
            #expect(try await Self.post(gateway, ["sender": "fast", "text": "one", "id": "m1"]).status == 200)
            // Redeliveries of a journaled message take no tokens.
            for _ in 0..<3 { #expect(try await Self.post(gateway, ["sender": "fast", "text": "one", "id": "m1"]).status == 200) }
            #expect(try await Self.post(gateway, ["sender": "fast", "text": "two"]).status == 200)
            let third = try await Self.post(gateway, ["sender": "fast", "text": "three"])
            #expect(third.status == 429)
            #expect(Int(third.headers["Retry-After"].first ?? "") ?? 0 >= 1)
            #expect(((third.json["error"] as? [String: Any])?["message"] as? String)?.contains("Please wait") == true)
            #expect(try await Self.post(gateway, ["sender": "slow", "text": "other sender"]).status == 200)
            #expect(fake.requestCount == 3)
        }
        try await MessagePathTests.withGateway(
            extraConfig: """
                channels:
                  alerts:
                    dm_policy: open
                    hook:
                      secret: \(Self.secret)
                limits:
                  ip_per_minute: 3
                """
        ) { gateway, _ in
            for _ in 0..<3 { #expect(try await Self.post(gateway, ["sender": "a", "text": "x"], secret: "wrong-secret").status == 401) }
            let limited = try await Self.post(gateway, ["sender": "a", "text": "x"])
            #expect(limited.status == 429)
            #expect(((limited.json["error"] as? [String: Any])?["message"] as? String)?.contains("limits.ip_per_minute") == true)
            #expect(try await gateway.request("/channels/telegram/webhook", method: .POST, body: "{}").status == 429)
            // The control plane is not a public route.
            #expect(try await gateway.request("/admin/v1/pairing", token: gateway.controlToken).status == 200)
        }
    }

    @Test("callback mode: a 202 at once, the reply POSTed signed to the callback URL; a failing callback is retried until it takes the reply")
    func callbackDelivery() async throws {
        let receiver = FakeCallbackReceiver()
        receiver.answer(503, 429)
        try await FakePlatformServer.withServer(receiver.router) { callback in
            try await MessagePathTests.withGateway(
                extraConfig: """
                    channels:
                      alerts:
                        dm_policy: open
                        hook:
                          secret: \(Self.secret)
                          callback_url: \(callback.baseURL)/replies
                    limits:
                      ip_per_minute: 0
                    outbox:
                      retry_base: 50ms
                    """
            ) { gateway, _ in
                let queued = try await Self.post(gateway, ["sender": "ci", "text": "deploy done", "reply": "callback"])
                #expect(queued.status == 202)
                #expect(queued.json["status"] as? String == "queued")
                let messageID = try #require(queued.json["message_id"] as? String)
                let deadline = ContinuousClock.now + .seconds(20)
                while receiver.requests.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                let delivered = try #require(receiver.requests.first)
                #expect(receiver.requests.count == 1)
                #expect(delivered.path == "/replies")
                #expect(delivered.json?["message_id"] as? String == messageID)
                #expect(delivered.json?["reply"] as? String == "echo: deploy done")
                let stamp = try #require(delivered.headers["x-swiftlet-timestamp"])
                #expect(delivered.headers["x-swiftlet-signature"] == HookAuth.signature(secret: Self.secret, timestamp: stamp, body: delivered.body))
                let entry = try #require(try await gateway.state.store.outboxEntry(id: "\(messageID):reply"))
                #expect(entry.attempts >= 2)
            }
        }
    }
}

extension RateBuckets.Decision {
    var isLimited: Bool {
        if case .limited = self { return true }
        return false
    }
}

extension WebhookChannelTests {
    @Test("shutdown: a webhook caller waiting for a reply the grace cut is let go with 'queued', and the message stays pending")
    func shutdownLetsWaitingCallersGo() async throws {
        let fake = FakeProvider()
        fake.enqueue(.hang)
        try await FakeProviderServer.withServer(fake) { server in
            let gateway = try await TestGateway.start(
                config: MessagePathTests.config(server, firstTokenTimeout: "60s", extra: """
                    gateway:
                      shutdown_grace: 500ms
                    channels:
                      alerts:
                        dm_policy: open
                        hook:
                          token: tok-abc
                          reply_timeout: 60s
                    limits:
                      ip_per_minute: 0
                    """))
            let waiting = Task {
                try await gateway.request(
                    "/hooks/alerts", method: .POST, headers: [("Authorization", "Bearer tok-abc"), ("Content-Type", "application/json")],
                    body: #"{"sender":"alice","text":"slow one","reply":"sync"}"#)
            }
            while fake.requestCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try await gateway.stop()
            let reply = try await waiting.value
            #expect(reply.status == 202 && reply.json["status"] as? String == "queued", "\(reply.status) \(reply.body)")
            let store = try SQLiteStore(path: gateway.workspace.path("data/swiftlet.sqlite").path)
            let pending = try await store.pendingJournal(limit: 10)
            #expect(pending.map(\.text) == ["slow one"], "the cut turn stays pending, to be answered after the restart")
            try await store.close()
        }
    }
}
