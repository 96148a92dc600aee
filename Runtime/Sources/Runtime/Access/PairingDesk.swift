public import Foundation

/// Applies a channel's access policy to one incoming message, with what the store knows of its sender: issues
/// and re-sends pairing codes, and records the owner's decisions. Every decision that changes something is
/// written to the audit log.
public struct PairingDesk: Sendable {
    let store: any GatewayStore

    public init(store: any GatewayStore) {
        self.store = store
    }

    /// What to do with a message, and the text to send back when it is not admitted (nil: send nothing).
    public struct Verdict: Sendable, Equatable {
        public var admitted: Bool
        public var reply: String?
        public var reason: String
    }

    public func admit(
        channel: String, access: ChannelAccess, sender: String, isGroup: Bool, group: String? = nil, mentioned: Bool = false, now: Date = Date()
    ) async throws -> Verdict {
        var standing = ChannelAccess.Standing.unknown
        var pending = 0
        // The store is asked only when the policy needs it (a direct message under pairing or allowlist).
        if !isGroup, access.direct == .pairing || access.direct == .allowlist, !access.allowFrom.contains(sender) {
            standing = try await store.pairing(channel: channel, sender: sender)?.standing(at: now) ?? .unknown
            if standing == .unknown, access.direct == .pairing {
                pending = try await store.pairings(channel: channel).filter { $0.state == .pending && !$0.isExpired(at: now) }.count
            }
        }
        switch access.decide(sender: sender, isGroup: isGroup, group: group, mentioned: mentioned, standing: standing, pendingCount: pending) {
        case .admit:
            return Verdict(admitted: true, reply: nil, reason: "admitted")
        case .ignore(let reason):
            return Verdict(admitted: false, reply: nil, reason: reason)
        case .tooManyPending:
            return try await tooManyPending(channel: channel, sender: sender)
        case .refuse(let reply):
            return Verdict(admitted: false, reply: reply, reason: "not in allow_from")
        case .remind(let code):
            return Verdict(admitted: false, reply: ChannelAccess.codeMessage(code, channel: channel), reason: "pairing code pending")
        case .issueCode:
            let expires = now.addingTimeInterval(TimeInterval(ChannelAccess.codeLifetime.components.seconds))
            switch try await store.issuePairingCode(
                channel: channel, sender: sender, code: PairingCode.make(), now: now, expiresAt: expires, maxPending: ChannelAccess.maxPending)
            {
            case .issued(let code):
                _ = try await store.appendAudit(
                    AuditEvent(eventType: "pairing.issued", userID: sender, payload: ["channel": channel, "sender": sender, "code": code]))
                return Verdict(admitted: false, reply: ChannelAccess.codeMessage(code, channel: channel), reason: "pairing code issued")
            case .existing(let code):
                return Verdict(admitted: false, reply: ChannelAccess.codeMessage(code, channel: channel), reason: "pairing code pending")
            case .tooManyPending:
                return try await tooManyPending(channel: channel, sender: sender)
            case .decided(let state):
                // Decided between the read and the write: the decision stands.
                return Verdict(admitted: state == .approved, reply: nil, reason: state == .approved ? "admitted" : "the owner rejected this sender")
            }
        }
    }

    private func tooManyPending(channel: String, sender: String) async throws -> Verdict {
        _ = try await store.appendAudit(AuditEvent(eventType: "pairing.too_many_pending", userID: sender, payload: ["channel": channel, "sender": sender]))
        return Verdict(admitted: false, reply: ChannelAccess.busyMessage, reason: "too many pending")
    }

    /// Why an owner's decision did not apply.
    public struct DecisionRefused: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Approves or rejects the sender holding `code` on `channel`, as `principal`; audited.
    public func decide(channel: String, code typed: String, approve: Bool, by principal: String, now: Date = Date()) async throws -> PairingRecord {
        guard let code = PairingCode.normalized(typed) else {
            throw DecisionRefused(description: "'\(typed)' is not a pairing code (8 characters of A-Z and 2-9, without I and O)")
        }
        guard let record = try await store.decidePairing(channel: channel, code: code, approve: approve, by: principal, now: now) else {
            throw DecisionRefused(description: "no pending pairing code \(code) on channel \(channel) (it may have expired after an hour, or been decided)")
        }
        _ = try await store.appendAudit(
            AuditEvent(
                eventType: approve ? "pairing.approved" : "pairing.rejected", userID: principal,
                payload: ["channel": channel, "sender": record.sender, "code": code]))
        return record
    }
}

/// A pairing record as the admin API lists it.
public struct PairingListing: Sendable, Codable, Equatable {
    public var channel: String
    public var sender: String
    public var code: String?
    public var state: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var decidedAt: Date?
    public var decidedBy: String?
    public var expired: Bool

    enum CodingKeys: String, CodingKey {
        case channel, sender, code, state, expired
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case decidedAt = "decided_at"
        case decidedBy = "decided_by"
    }

    public init(record: PairingRecord, expired: Bool) {
        channel = record.channel
        sender = record.sender
        code = record.code
        state = expired ? "expired" : record.state.rawValue
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        decidedAt = record.decidedAt
        decidedBy = record.decidedBy
        self.expired = expired
    }
}
