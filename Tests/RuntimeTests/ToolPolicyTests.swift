import Testing

@testable import Runtime

@Suite("tools.rules: who may trigger which tool")
struct ToolPolicyTests {
    @Test("principals parse; anything else is refused")
    func principals() {
        #expect(ToolPolicy.Principal("everyone") == .everyone)
        #expect(ToolPolicy.Principal("owner") == .owner)
        #expect(ToolPolicy.Principal("telegram:12345") == .sender(channel: "telegram", sender: "12345"))
        #expect(ToolPolicy.Principal("webchat:*") == .sender(channel: "webchat", sender: nil))
        // A sender id may itself hold colons (Matrix ids do).
        #expect(ToolPolicy.Principal("matrix:@me:example.org") == .sender(channel: "matrix", sender: "@me:example.org"))
        for bad in ["", "anyone", "telegram", ":123", "telegram:", "*:123"] { #expect(ToolPolicy.Principal(bad) == nil, "\(bad)") }
    }

    @Test("a call passes the function's rule and its plugin's rule; default_allow only when neither exists; [] is nobody")
    func precedence() {
        let policy = ToolPolicy(
            owners: [.sender(channel: "webchat", sender: nil), .sender(channel: "telegram", sender: "1")],
            defaultAllow: [.everyone],
            rules: [
                "fs": [.owner], "fs_read": [.everyone], "fs_edit": [.sender(channel: "webchat", sender: nil)],
                "http_fetch": [.owner, .sender(channel: "slack", sender: nil)], "current_time": [], "evil": [.owner],
            ])
        let stranger = (channel: "telegram", sender: "2")
        #expect(policy.allows(tool: "fs_write", group: "fs", channel: "telegram", sender: "1"))
        #expect(!policy.allows(tool: "fs_write", group: "fs", channel: stranger.channel, sender: stranger.sender))
        // A function rule narrows its plugin's rule, never widens it: a plugin names its own functions.
        #expect(!policy.allows(tool: "fs_read", group: "fs", channel: stranger.channel, sender: stranger.sender))
        #expect(policy.allows(tool: "fs_read", group: "fs", channel: "telegram", sender: "1"))
        #expect(policy.allows(tool: "fs_edit", group: "fs", channel: "webchat", sender: "owner"))
        #expect(!policy.allows(tool: "fs_edit", group: "fs", channel: "telegram", sender: "1"))
        // A hostile plugin that registers a function named like another rule gains nothing.
        #expect(!policy.allows(tool: "fs_read", group: "evil", channel: stranger.channel, sender: stranger.sender))
        #expect(!policy.allows(tool: "http_fetch", group: "fs", channel: "slack", sender: "U1"))
        #expect(policy.allows(tool: "http_fetch", group: "http_fetch", channel: "slack", sender: "U1"))
        #expect(!policy.allows(tool: "http_fetch", group: "http_fetch", channel: stranger.channel, sender: stranger.sender))
        #expect(policy.allows(tool: "http_fetch", group: nil, channel: "webchat", sender: "owner"))
        #expect(!policy.allows(tool: "current_time", group: nil, channel: "webchat", sender: "owner"))
        #expect(policy.allows(tool: "unnamed", group: nil, channel: stranger.channel, sender: stranger.sender))
        #expect(ToolPolicy(defaultAllow: []).allows(tool: "x", group: nil, channel: "webchat", sender: "owner") == false)
    }

    static func resolve(_ yaml: String) throws -> ResolvedConfig {
        try ConfigResolver().resolve(files: [.init(path: "config.yaml", text: yaml)], dotenv: nil, environment: [:], overrides: [])
    }

    @Test("config.yaml: the owner is the web chat and the API by default; a bad principal is a configuration error")
    func configuration() throws {
        let defaults = GatewayConfig(try Self.resolve(""))
        #expect(defaults.tools.isOwner(channel: "webchat", sender: "owner"))
        #expect(defaults.tools.isOwner(channel: "api", sender: "api"))
        #expect(!defaults.tools.isOwner(channel: "telegram", sender: "1"))
        #expect(defaults.tools.allows(tool: "anything", group: nil, channel: "telegram", sender: "1"))
        let bad = GatewayConfig.crossKeyIssues(try Self.resolve("tools:\n  owners: [owner]\n  rules:\n    fs_write:\n      allow: [friends]\n"))
        #expect(bad.map(\.keyPath) == ["tools.owners", "tools.rules.fs_write.allow"])
        #expect(bad.map(\.message) == ["'owner' is not channel:sender or channel:*", "'friends' is not everyone, owner, channel:sender or channel:*"])
        let good = try Self.resolve("tools:\n  rules:\n    fs_write:\n      allow: [owner, \"telegram:42\"]\n")
        #expect(GatewayConfig.crossKeyIssues(good).isEmpty)
        #expect(GatewayConfig(good).tools.rules["fs_write"] == [.owner, .sender(channel: "telegram", sender: "42")])
    }
}
