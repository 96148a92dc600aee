import Foundation
import Testing

@testable import Runtime

@Suite struct SessionKeyTests {
    private let scopes: [DirectMessageScope] = [.main, .perPeer, .perChannelPeer]

    @Test func directMessagesFollowTheScope() {
        let alice = MessageOrigin(channel: "telegram", account: "bot1", peer: "alice")
        #expect(SessionKey.make(alice, scope: .main) == "agent:main")
        #expect(SessionKey.make(alice, scope: .perPeer) == "dm:alice")
        #expect(SessionKey.make(alice, scope: .perChannelPeer) == "telegram:bot1:dm:alice")
    }

    @Test func channelWithoutAccountLeavesTheAccountOut() {
        #expect(SessionKey.make(MessageOrigin(channel: "webchat", peer: "bob"), scope: .perChannelPeer) == "webchat:dm:bob")
    }

    @Test func samePeerOnTwoChannelsSharesOnlyUnderPerPeer() {
        let telegram = MessageOrigin(channel: "telegram", peer: "alice"), slack = MessageOrigin(channel: "slack", peer: "alice")
        #expect(SessionKey.make(telegram, scope: .perPeer) == SessionKey.make(slack, scope: .perPeer))
        #expect(SessionKey.make(telegram, scope: .perChannelPeer) != SessionKey.make(slack, scope: .perChannelPeer))
    }

    @Test func groupsGetTheirOwnSessionUnderEveryScope() {
        let origin = MessageOrigin(channel: "slack", account: "T1", peer: "alice", group: "C42")
        for scope in scopes {
            #expect(SessionKey.make(origin, scope: scope) == "slack:T1:group:C42")
        }
        #expect(SessionKey.make(MessageOrigin(channel: "discord", peer: "p", group: "g1"), scope: .main) == "discord:group:g1")
    }

    @Test func threadsAreAppended() {
        let groupThread = MessageOrigin(channel: "slack", account: "T1", peer: "alice", group: "C42", thread: "17.3")
        #expect(SessionKey.make(groupThread, scope: .main) == "slack:T1:group:C42:thread:17.3")
        let dmThread = MessageOrigin(channel: "slack", account: "T1", peer: "alice", thread: "9")
        #expect(SessionKey.make(dmThread, scope: .perChannelPeer) == "slack:T1:dm:alice:thread:9")
        #expect(SessionKey.make(dmThread, scope: .perPeer) == "dm:alice:thread:9")
    }

    @Test func scopeNamesMatchTheConfigurationChoices() {
        #expect(scopes.map(\.rawValue) == ["main", "per-peer", "per-channel-peer"])
    }
}

@Suite struct ChatCommandTests {
    @Test(arguments: [
        ("/new", ChatCommand.new),
        ("/reset", .reset),
        ("/stop", .stop),
        ("/status", .status),
        ("/help", .help),
        ("/model", .model(nil)),
        ("/model   ", .model(nil)),
        ("/model openai/gpt-4o-mini", .model("openai/gpt-4o-mini")),
        ("/model   local/llama3.2:3b  ", .model("local/llama3.2:3b")),
        ("/model default", .model("default")),
        ("/status@my_bot", .status),
        ("/model@my_bot anthropic/claude-sonnet-4-5", .model("anthropic/claude-sonnet-4-5")),
        ("   /new", .new),
        ("\n/stop", .stop),
        ("/STATUS", .status),
        ("/new please", .new),
    ])
    func parsesCommands(text: String, expected: ChatCommand) {
        #expect(ChatCommand.parse(text) == expected)
    }

    @Test(arguments: ["/shrug", "hello", "hello /new", "", "   ", "/", "/newer", "/@bot", "//new"])
    func ordinaryMessagesAreNotCommands(text: String) {
        #expect(ChatCommand.parse(text) == nil)
    }

    @Test func helpTextMentionsEveryCommand() {
        for command in ["/new", "/reset", "/stop", "/status", "/model", "/help"] {
            #expect(ChatCommand.helpText.contains(command))
        }
    }
}

@Suite struct ResetPolicyTests {
    private static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    private let utc = Self.calendar(TimeZone(identifier: "UTC")!)

    private func date(_ day: Int, _ hour: Int, _ minute: Int = 0, _ second: Int = 0) -> Date {
        utc.date(from: DateComponents(year: 2025, month: 3, day: day, hour: hour, minute: minute, second: second))!
    }

    @Test func emptySessionNeverResets() {
        let policy = ResetPolicy(idle: .seconds(1), dailyHour: 4)
        #expect(!policy.shouldReset(lastActivity: nil, lastReset: nil, now: date(10, 12), calendar: utc))
    }

    @Test func neverWithTheDefaults() {
        #expect(!ResetPolicy().shouldReset(lastActivity: date(1, 0), lastReset: nil, now: date(30, 0), calendar: utc))
    }

    @Test func idleResetsAtTheLimitNotBefore() {
        let policy = ResetPolicy(idle: .seconds(3600))
        #expect(policy.shouldReset(lastActivity: date(10, 10), lastReset: nil, now: date(10, 11), calendar: utc))
        #expect(!policy.shouldReset(lastActivity: date(10, 10), lastReset: nil, now: date(10, 10, 59, 59), calendar: utc))
    }

    @Test func subSecondIdleIsHonoured() {
        let policy = ResetPolicy(idle: .milliseconds(1500))
        let last = date(10, 10)
        #expect(!policy.shouldReset(lastActivity: last, lastReset: nil, now: last.addingTimeInterval(1.4), calendar: utc))
        #expect(policy.shouldReset(lastActivity: last, lastReset: nil, now: last.addingTimeInterval(1.5), calendar: utc))
    }

    @Test func activityBeforeTodaysBoundaryResets() {
        let policy = ResetPolicy(dailyHour: 4)
        #expect(policy.shouldReset(lastActivity: date(10, 3, 59), lastReset: nil, now: date(10, 10), calendar: utc))
        #expect(!policy.shouldReset(lastActivity: date(10, 4, 30), lastReset: nil, now: date(10, 10), calendar: utc))
    }

    @Test func beforeTodaysHourTheBoundaryIsYesterdays() {
        let policy = ResetPolicy(dailyHour: 4)
        #expect(!policy.shouldReset(lastActivity: date(9, 23), lastReset: nil, now: date(10, 2), calendar: utc))
        #expect(policy.shouldReset(lastActivity: date(9, 3), lastReset: nil, now: date(10, 2), calendar: utc))
    }

    @Test func boundaryAtExactlyNowCounts() {
        #expect(ResetPolicy(dailyHour: 4).shouldReset(lastActivity: date(9, 23), lastReset: nil, now: date(10, 4), calendar: utc))
    }

    @Test func oneBoundaryResetsOnce() {
        let policy = ResetPolicy(dailyHour: 4)
        // Last message yesterday evening; the reset already happened at 04:10 today.
        #expect(!policy.shouldReset(lastActivity: date(9, 22), lastReset: date(10, 4, 10), now: date(10, 10), calendar: utc))
        // A reset from before the boundary does not stop the next one.
        #expect(policy.shouldReset(lastActivity: date(9, 22), lastReset: date(9, 5), now: date(10, 10), calendar: utc))
    }

    @Test func theHourIsLocalToTheCalendar() {
        let plusTwo = Self.calendar(TimeZone(secondsFromGMT: 2 * 3600)!)
        let policy = ResetPolicy(dailyHour: 4)
        // 01:30 UTC is 03:30 at +02:00, before that zone's 04:00; 02:30 UTC is 04:30 there.
        #expect(policy.shouldReset(lastActivity: date(10, 1, 30), lastReset: nil, now: date(10, 2, 30), calendar: plusTwo))
        #expect(!policy.shouldReset(lastActivity: date(10, 1, 30), lastReset: nil, now: date(10, 2, 30), calendar: utc))
    }

    @Test func latestBoundary() {
        #expect(ResetPolicy.latestBoundary(before: date(10, 10), hour: 4, calendar: utc) == date(10, 4))
        #expect(ResetPolicy.latestBoundary(before: date(10, 2), hour: 4, calendar: utc) == date(9, 4))
        #expect(ResetPolicy.latestBoundary(before: date(1, 0), hour: 0, calendar: utc) == date(1, 0))
    }
}
