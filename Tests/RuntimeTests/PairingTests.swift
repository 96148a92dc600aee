import Foundation
import NIOHTTP1
import Testing

@testable import Runtime

/// The access policy of a channel and pairing: codes, decisions, and the records the store keeps.
@Suite("Access: policy, pairing codes, pairing records")
struct PairingTests {
    @Test("codes are 8 characters of an alphabet without 0, O, 1 and I, and differ")
    func codes() {
        #expect(PairingCode.alphabet.count == 32 && !PairingCode.alphabet.contains { "0O1I".contains($0) })
        let codes = (0..<2000).map { _ in PairingCode.make() }
        #expect(codes.allSatisfy { $0.count == 8 && $0.allSatisfy(PairingCode.alphabet.contains) })
        #expect(Set(codes).count == codes.count)
        // Every symbol turns up: the draw is not skewed to a part of the alphabet.
        #expect(Set(codes.joined()).count == 32)
        #expect(PairingCode.normalized("abcd-efgh") == "ABCDEFGH")
        #expect(PairingCode.normalized(" k7mp 2xqz ") == "K7MP2XQZ")
        #expect(PairingCode.normalized("ABCDEFG0") == nil && PairingCode.normalized("ABCDEFGI") == nil && PairingCode.normalized("ABC") == nil)
    }

    @Test("direct messages: pairing, allowlist, open and disabled decide as documented")
    func directDecisions() {
        let pairing = ChannelAccess(direct: .pairing, allowFrom: ["friend"])
        #expect(pairing.decide(sender: "stranger", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 0) == .issueCode)
        #expect(pairing.decide(sender: "stranger", isGroup: false, group: nil, mentioned: false, standing: .pending(code: "ABCDEFGH"), pendingCount: 3)
            == .remind(code: "ABCDEFGH"))
        #expect(pairing.decide(sender: "stranger", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 3) == .tooManyPending)
        #expect(pairing.decide(sender: "friend", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 3) == .admit)
        #expect(pairing.decide(sender: "paired", isGroup: false, group: nil, mentioned: false, standing: .approved, pendingCount: 0) == .admit)
        #expect(pairing.decide(sender: "rejected", isGroup: false, group: nil, mentioned: false, standing: .rejected, pendingCount: 0)
            == .ignore(reason: "the owner rejected this sender"))
        let allowlist = ChannelAccess(direct: .allowlist, allowFrom: ["friend"])
        #expect(allowlist.decide(sender: "friend", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 0) == .admit)
        if case .refuse = allowlist.decide(sender: "stranger", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 0) {} else {
            Issue.record("an allowlist admitted a stranger")
        }
        #expect(ChannelAccess(direct: .open).decide(sender: "anyone", isGroup: false, group: nil, mentioned: false, standing: .unknown, pendingCount: 9) == .admit)
        #expect(ChannelAccess(direct: .disabled).decide(sender: "friend", isGroup: false, group: nil, mentioned: false, standing: .approved, pendingCount: 0)
            == .ignore(reason: "direct messages are disabled on this channel"))
    }

    @Test("groups: answered when mentioned (by default), always, or never; allow_groups narrows; no pairing in groups")
    func groupDecisions() {
        let mention = ChannelAccess()
        #expect(mention.decide(sender: "x", isGroup: true, group: "g", mentioned: false, standing: .unknown, pendingCount: 0)
            == .ignore(reason: "not mentioned in a group"))
        #expect(mention.decide(sender: "x", isGroup: true, group: "g", mentioned: true, standing: .unknown, pendingCount: 3) == .admit)
        #expect(ChannelAccess(groups: .open).decide(sender: "x", isGroup: true, group: "g", mentioned: false, standing: .unknown, pendingCount: 0) == .admit)
        #expect(ChannelAccess(groups: .disabled).decide(sender: "x", isGroup: true, group: "g", mentioned: true, standing: .approved, pendingCount: 0)
            == .ignore(reason: "groups are disabled on this channel"))
        let narrowed = ChannelAccess(groups: .open, allowGroups: ["team"])
        #expect(narrowed.decide(sender: "x", isGroup: true, group: "team", mentioned: false, standing: .unknown, pendingCount: 0) == .admit)
        #expect(narrowed.decide(sender: "x", isGroup: true, group: "other", mentioned: true, standing: .unknown, pendingCount: 0)
            == .ignore(reason: "group other is not in allow_groups"))
    }

    @Test("the store issues at most 3 valid codes per channel, keeps a sender's code, expires codes, and records decisions")
    func storeFlow() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-pairing-\(UUID().uuidString).sqlite").path
        let store = try SQLiteStore(path: path)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let hour: TimeInterval = 3600
        func issue(_ sender: String, _ code: String, at now: Date, channel: String = "telegram") async throws -> PairingIssue {
            try await store.issuePairingCode(channel: channel, sender: sender, code: code, now: now, expiresAt: now + hour, maxPending: 3)
        }
        #expect(try await issue("a", "AAAAAAAA", at: start) == .issued(code: "AAAAAAAA"))
        // The same sender keeps the code they hold; a second code is not made.
        #expect(try await issue("a", "ZZZZZZZZ", at: start + 60) == .existing(code: "AAAAAAAA"))
        #expect(try await issue("b", "BBBBBBBB", at: start + 60) == .issued(code: "BBBBBBBB"))
        #expect(try await issue("c", "CCCCCCCC", at: start + 60) == .issued(code: "CCCCCCCC"))
        #expect(try await issue("d", "DDDDDDDD", at: start + 120) == .tooManyPending)
        // Other channels count on their own.
        #expect(try await issue("d", "DDDDDDDD", at: start + 120, channel: "slack") == .issued(code: "DDDDDDDD"))
        // Approve one, reject one: their places free up.
        let approved = try await store.decidePairing(channel: "telegram", code: "BBBBBBBB", approve: true, by: "owner", now: start + 180)
        #expect(approved?.sender == "b" && approved?.state == .approved && approved?.decidedBy == "owner")
        let rejected = try await store.decidePairing(channel: "telegram", code: "CCCCCCCC", approve: false, by: "owner", now: start + 180)
        #expect(rejected?.sender == "c" && rejected?.state == .rejected)
        #expect(try await store.decidePairing(channel: "telegram", code: "CCCCCCCC", approve: true, by: "owner", now: start + 200) == nil)
        #expect(try await store.decidePairing(channel: "slack", code: "AAAAAAAA", approve: true, by: "owner", now: start + 200) == nil)
        #expect(try await issue("b", "EEEEEEEE", at: start + 240) == .decided(.approved))
        #expect(try await issue("c", "EEEEEEEE", at: start + 240) == .decided(.rejected))
        #expect(try await issue("d", "DDDDDDDD", at: start + 240) == .issued(code: "DDDDDDDD"))
        // After an hour a code is worth nothing: it cannot be approved, and its holder gets a new one.
        #expect(try await store.decidePairing(channel: "telegram", code: "AAAAAAAA", approve: true, by: "owner", now: start + hour + 1) == nil)
        #expect(try await store.pairing(channel: "telegram", sender: "a")?.standing(at: start + hour + 1) == .unknown)
        #expect(try await issue("a", "FFFFFFFF", at: start + hour + 1) == .issued(code: "FFFFFFFF"))
        let all = try await store.pairings(channel: "telegram")
        #expect(all.count == 4 && Set(all.map(\.sender)) == ["a", "b", "c", "d"])
        #expect(try await store.pairings(channel: nil).count == 5)
        // Kept across a restart.
        try await store.close()
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.pairing(channel: "telegram", sender: "b")?.standing(at: start + 10 * hour) == .approved)
        try await reopened.close()
    }

    @Test("the desk issues a code once, re-sends it, turns a fourth stranger away, and admits after approval; all audited")
    func deskFlow() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-desk-\(UUID().uuidString).sqlite").path
        let store = try SQLiteStore(path: path)
        let desk = PairingDesk(store: store)
        let access = ChannelAccess()
        let first = try await desk.admit(channel: "telegram", access: access, sender: "alice", isGroup: false)
        #expect(!first.admitted && first.reason == "pairing code issued")
        let code = try #require(try await store.pairing(channel: "telegram", sender: "alice")?.code)
        #expect(first.reply?.contains(code) == true && first.reply?.contains("swiftlet pairing approve telegram \(code)") == true)
        let again = try await desk.admit(channel: "telegram", access: access, sender: "alice", isGroup: false)
        #expect(!again.admitted && again.reply == first.reply && again.reason == "pairing code pending")
        _ = try await desk.admit(channel: "telegram", access: access, sender: "bob", isGroup: false)
        _ = try await desk.admit(channel: "telegram", access: access, sender: "carol", isGroup: false)
        let fourth = try await desk.admit(channel: "telegram", access: access, sender: "dave", isGroup: false)
        #expect(!fourth.admitted && fourth.reason == "too many pending" && fourth.reply?.contains("not accepting new contacts") == true)
        // The owner types the code in lower case with a dash.
        let typed = code.lowercased().prefix(4) + "-" + code.lowercased().dropFirst(4)
        let approved = try await desk.decide(channel: "telegram", code: String(typed), approve: true, by: "owner")
        #expect(approved.sender == "alice")
        #expect(try await desk.admit(channel: "telegram", access: access, sender: "alice", isGroup: false).admitted)
        let bobCode = try #require(try await store.pairing(channel: "telegram", sender: "bob")?.code)
        _ = try await desk.decide(channel: "telegram", code: bobCode, approve: false, by: "owner")
        let bob = try await desk.admit(channel: "telegram", access: access, sender: "bob", isGroup: false)
        #expect(!bob.admitted && bob.reply == nil)
        await #expect(throws: PairingDesk.DecisionRefused.self) { try await desk.decide(channel: "telegram", code: "0000", approve: true, by: "owner") }
        await #expect(throws: PairingDesk.DecisionRefused.self) { try await desk.decide(channel: "telegram", code: bobCode, approve: true, by: "owner") }
        // The expired code: an hour later it cannot be approved.
        let carolCode = try #require(try await store.pairing(channel: "telegram", sender: "carol")?.code)
        await #expect(throws: PairingDesk.DecisionRefused.self) {
            try await desk.decide(channel: "telegram", code: carolCode, approve: true, by: "owner", now: Date().addingTimeInterval(3601))
        }
        let audit = try await store.auditEvents(type: nil, limit: 20).map(\.eventType)
        #expect(audit.filter { $0 == "pairing.issued" }.count == 3 && audit.contains("pairing.too_many_pending"))
        #expect(audit.contains("pairing.approved") && audit.contains("pairing.rejected"))
        try await store.close()
    }

    @Test("the admin API lists, approves and rejects pairing codes, and refuses unknown ones; only with a control token")
    func adminAPI() async throws {
        let gateway = try await TestGateway.start()
        let desk = PairingDesk(store: gateway.gateway.state.store)
        _ = try await desk.admit(channel: "hooks", access: ChannelAccess(), sender: "erin", isGroup: false)
        _ = try await desk.admit(channel: "hooks", access: ChannelAccess(), sender: "frank", isGroup: false)
        let list = try await gateway.request("/admin/v1/pairing?channel=hooks", token: gateway.controlToken)
        let records = try #require(list.json["pairing"] as? [[String: Any]])
        #expect(records.count == 2 && records.allSatisfy { $0["state"] as? String == "pending" && ($0["code"] as? String)?.count == 8 })
        let erinCode = try #require(records.first { $0["sender"] as? String == "erin" }?["code"] as? String)
        let approved = try await gateway.request("/admin/v1/pairing/approve?channel=hooks&code=\(erinCode)", method: .POST, token: gateway.controlToken)
        #expect(approved.status == 200 && (approved.json["pairing"] as? [String: Any])?["state"] as? String == "approved", "\(approved.json)")
        let again = try await gateway.request("/admin/v1/pairing/approve?channel=hooks&code=\(erinCode)", method: .POST, token: gateway.controlToken)
        #expect(again.status == 404)
        #expect(try await gateway.request("/admin/v1/pairing/reject?channel=hooks&code=\(erinCode)", method: .POST).status == 401)
        #expect(try await gateway.request("/admin/v1/pairing", token: nil).status == 401)
        #expect(try await desk.admit(channel: "hooks", access: ChannelAccess(), sender: "erin", isGroup: false).admitted)
        try await gateway.stop()
    }
}
