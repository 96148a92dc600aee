public import Foundation

/// One sender of one channel as pairing knows them: a pending code, or the owner's decision.
public struct PairingRecord: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        case pending, approved, rejected
    }

    enum CodingKeys: String, CodingKey {
        case channel, sender, code, state
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case decidedAt = "decided_at"
        case decidedBy = "decided_by"
    }

    public var channel: String
    public var sender: String
    /// The code while pending (and kept after the decision, for the audit trail).
    public var code: String?
    public var state: State
    public var createdAt: Date
    /// When a pending code stops being valid.
    public var expiresAt: Date?
    public var decidedAt: Date?
    /// Who decided (the control token's principal).
    public var decidedBy: String?

    public init(
        channel: String, sender: String, code: String?, state: State, createdAt: Date, expiresAt: Date? = nil, decidedAt: Date? = nil, decidedBy: String? = nil
    ) {
        self.channel = channel
        self.sender = sender
        self.code = code
        self.state = state
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
    }

    /// Whether this is a pending code that expired by `now`.
    public func isExpired(at now: Date) -> Bool {
        state == .pending && (expiresAt ?? .distantPast) <= now
    }

    /// The sender's standing for ``ChannelAccess/decide(sender:isGroup:group:mentioned:standing:pendingCount:)``.
    public func standing(at now: Date) -> ChannelAccess.Standing {
        switch state {
        case .approved: .approved
        case .rejected: .rejected
        case .pending: isExpired(at: now) ? .unknown : .pending(code: code ?? "")
        }
    }
}

/// What asking for a code gave.
public enum PairingIssue: Sendable, Equatable {
    case issued(code: String)
    /// The sender already holds a valid code.
    case existing(code: String)
    /// The channel has ``ChannelAccess/maxPending`` valid codes waiting already.
    case tooManyPending
    /// The sender was approved or rejected meanwhile.
    case decided(PairingRecord.State)
}
