/// Where a message came from, in the terms session keys are made of.
public struct MessageOrigin: Sendable, Equatable {
    public var channel: String
    /// The bot account or workspace on the channel; empty when the channel has one.
    public var account: String
    /// The person (direct messages) or the sender inside a group.
    public var peer: String
    /// The group, room or channel id; nil for direct messages.
    public var group: String?
    /// A thread inside the conversation, where the platform has them.
    public var thread: String?

    public init(channel: String, account: String = "", peer: String, group: String? = nil, thread: String? = nil) {
        self.channel = channel
        self.account = account
        self.peer = peer
        self.group = group
        self.thread = thread
    }
}

/// How direct messages map to sessions (`sessions.dm_scope`).
public enum DirectMessageScope: String, Sendable {
    /// One shared session for every direct message on every channel: the owner's single assistant.
    case main
    /// One per person, across channels.
    case perPeer = "per-peer"
    /// One per channel (and account) and person.
    case perChannelPeer = "per-channel-peer"
}

/// What a session does with messages that arrive while one of its turns runs (`sessions.queue`).
public enum QueueMode: String, Sendable {
    /// Each message gets a turn of its own, in arrival order.
    case followup
    /// The messages waiting when a turn ends are answered together by the next turn (one reply).
    case collect
    /// Messages that arrive while a turn runs join it before its next model call (after a tool round); those
    /// that arrive during its last call are answered by the next turn, together.
    case steer
}

public enum SessionKey {
    /// The session key for a message: groups and threads always get their own; direct messages follow `scope`.
    ///
    /// `agent:main`, `dm:alice`, `telegram:bot1:dm:alice`, `slack:T1:group:C42`, `slack:T1:group:C42:thread:17.3`.
    public static func make(_ origin: MessageOrigin, scope: DirectMessageScope) -> String {
        let channelPart = origin.account.isEmpty ? origin.channel : "\(origin.channel):\(origin.account)"
        var key: String
        if let group = origin.group {
            key = "\(channelPart):group:\(group)"
        } else {
            switch scope {
            case .main: key = "agent:main"
            case .perPeer: key = "dm:\(origin.peer)"
            case .perChannelPeer: key = "\(channelPart):dm:\(origin.peer)"
            }
        }
        if let thread = origin.thread { key += ":thread:\(thread)" }
        return key
    }
}
