/// Who may talk to the assistant on one channel: the access policy of direct messages and of groups. Pure: the
/// caller supplies what the store knows about the sender.
public struct ChannelAccess: Sendable, Equatable {
    public enum DirectPolicy: String, Sendable, CaseIterable {
        /// Strangers get a pairing code and nothing else until the owner approves it.
        case pairing
        /// Only `allow_from` (and senders paired before) get through; others are refused.
        case allowlist
        /// Everyone gets through.
        case open
        /// Direct messages are not answered.
        case disabled
    }

    public enum GroupPolicy: String, Sendable, CaseIterable {
        /// In a group, only messages that mention the bot (or reply to it) are answered.
        case mention
        case open
        case disabled
    }

    public var direct: DirectPolicy = .pairing
    /// Senders admitted without pairing, as the channel names them.
    public var allowFrom: [String] = []
    public var groups: GroupPolicy = .mention
    /// Groups the bot answers in; empty for any group.
    public var allowGroups: [String] = []

    public init(direct: DirectPolicy = .pairing, allowFrom: [String] = [], groups: GroupPolicy = .mention, allowGroups: [String] = []) {
        self.direct = direct
        self.allowFrom = allowFrom
        self.groups = groups
        self.allowGroups = allowGroups
    }

    /// At most this many codes wait for the owner per channel; further strangers are turned away meanwhile.
    public static let maxPending = 3
    /// How long a pairing code is valid.
    public static let codeLifetime: Duration = .seconds(3600)

    /// What the store knows of a direct-message sender.
    public enum Standing: Sendable, Equatable {
        case unknown
        case approved
        case rejected
        /// A code was issued and is still valid.
        case pending(code: String)
    }

    public enum Decision: Sendable, Equatable {
        /// The message goes on to the assistant.
        case admit
        /// A stranger: issue a new code (the caller stores it) and send it, nothing else.
        case issueCode
        /// A stranger with a valid code: send the same code again, nothing else.
        case remind(code: String)
        /// A stranger while ``maxPending`` codes wait: send ``busyMessage``, nothing else.
        case tooManyPending
        /// Turned away with a reply (the caller sends `reason`).
        case refuse(reason: String)
        /// Not answered at all (groups without a mention, disabled direct messages, rejected senders).
        case ignore(reason: String)
    }

    /// - Parameters:
    ///   - pendingCount: codes of this channel still waiting for the owner (for a stranger without one).
    public func decide(sender: String, isGroup: Bool, group: String?, mentioned: Bool, standing: Standing, pendingCount: Int) -> Decision {
        if isGroup {
            switch groups {
            case .disabled: return .ignore(reason: "groups are disabled on this channel")
            case .mention where !mentioned: return .ignore(reason: "not mentioned in a group")
            case .mention, .open: break
            }
            if !allowGroups.isEmpty, !allowGroups.contains(group ?? "") { return .ignore(reason: "group \(group ?? "?") is not in allow_groups") }
            return .admit
        }
        if direct == .disabled { return .ignore(reason: "direct messages are disabled on this channel") }
        if direct == .open || allowFrom.contains(sender) || standing == .approved { return .admit }
        if standing == .rejected { return .ignore(reason: "the owner rejected this sender") }
        switch direct {
        case .allowlist:
            return .refuse(reason: "This assistant only answers people its owner has allowed.")
        case .pairing:
            if case .pending(let code) = standing { return .remind(code: code) }
            return pendingCount < Self.maxPending ? .issueCode : .tooManyPending
        case .open, .disabled:
            return .admit
        }
    }

    /// What a stranger receives while the channel has ``maxPending`` codes waiting.
    public static let busyMessage = "This assistant is not accepting new contacts right now. Please try again later."

    /// The message a stranger receives with their code.
    public static func codeMessage(_ code: String, channel: String) -> String {
        "Hi! This assistant answers only people its owner knows. Your pairing code is \(code). Ask the owner to run "
            + "`swiftlet pairing approve \(channel) \(code)`; the code is valid for one hour."
    }
}
