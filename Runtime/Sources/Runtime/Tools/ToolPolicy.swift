/// Who may trigger which tool: the `tools` section of config.yaml.
///
/// ```yaml
/// tools:
///   owners: ["webchat:*", "api:*", "telegram:123456789"]
///   default_allow: [everyone]
///   rules:
///     fs_write: { allow: [owner] }                      # a function
///     http_fetch: { allow: [owner, "telegram:*"] }     # or a plugin: every function it registers
/// ```
///
/// A rule for the function wins over a rule for its plugin, which wins over `default_allow`. A tool a sender may
/// not trigger is left out of what the model is offered in that conversation, and a call to it anyway (a model
/// that invents one) is refused with the reason. Pure decisions; the agent applies them.
public struct ToolPolicy: Sendable, Equatable {
    /// One entry of an `allow` or `owners` list.
    public enum Principal: Sendable, Equatable, CustomStringConvertible {
        case everyone
        /// Any sender listed in `tools.owners`.
        case owner
        /// `channel:sender`, or `channel:*` (sender nil) for everyone on that channel.
        case sender(channel: String, sender: String?)

        /// Parses `everyone`, `owner`, `channel:sender` or `channel:*`; nil for anything else.
        public init?(_ text: String) {
            switch text {
            case "everyone": self = .everyone
            case "owner": self = .owner
            default:
                guard let colon = text.firstIndex(of: ":") else { return nil }
                let channel = String(text[..<colon])
                let sender = String(text[text.index(after: colon)...])
                guard !channel.isEmpty, !sender.isEmpty, !channel.contains("*") else { return nil }
                self = .sender(channel: channel, sender: sender == "*" ? nil : sender)
            }
        }

        public var description: String {
            switch self {
            case .everyone: "everyone"
            case .owner: "owner"
            case .sender(let channel, let sender): "\(channel):\(sender ?? "*")"
            }
        }
    }

    public var owners: [Principal]
    public var defaultAllow: [Principal]
    /// By function name or plugin name.
    public var rules: [String: [Principal]]

    public init(owners: [Principal] = [], defaultAllow: [Principal] = [.everyone], rules: [String: [Principal]] = [:]) {
        self.owners = owners
        self.defaultAllow = defaultAllow
        self.rules = rules
    }

    /// Every tool for everyone: what a gateway without a `tools` section would do.
    public static let open = ToolPolicy()

    /// True when no rule narrows `default_allow: [everyone]`: every tool for every sender, nothing to check.
    public var allowsEverything: Bool {
        rules.isEmpty && defaultAllow.contains(.everyone)
    }

    /// Whether `sender` on `channel` may trigger the function `tool` (registered by the plugin `group`, if any).
    public func allows(tool: String, group: String?, channel: String, sender: String) -> Bool {
        let applying = [rules[tool], group.flatMap { rules[$0] }].compactMap { $0 }
        return (applying.isEmpty ? [defaultAllow] : applying).allSatisfy { allowed in
            allowed.contains { principal in
                switch principal {
                case .everyone: true
                case .owner: isOwner(channel: channel, sender: sender)
                case .sender: Self.matches(principal, channel: channel, sender: sender)
                }
            }
        }
    }

    public func isOwner(channel: String, sender: String) -> Bool {
        owners.contains { Self.matches($0, channel: channel, sender: sender) }
    }

    private static func matches(_ principal: Principal, channel: String, sender: String) -> Bool {
        guard case .sender(let wantedChannel, let wantedSender) = principal else { return false }
        return wantedChannel == channel && (wantedSender == nil || wantedSender == sender)
    }

    /// Why a call is refused, for the model and the trace.
    static func refusal(tool: String) -> String {
        "error: the tool '\(tool)' is not allowed in this conversation (tools.rules in config.yaml decides who may use it)"
    }
}
