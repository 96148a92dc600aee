import Testing

@testable import Runtime

@Suite struct ContextPlanTests {
    /// 40 bytes: 14 estimated tokens.
    private static let forty = String(repeating: "w", count: 40)

    private func row(_ id: Int64, _ role: MessageRecord.Role, _ content: String = forty) -> MessageRecord {
        var record = MessageRecord(messageID: "m\(id)", sessionID: "s", role: role, author: role == .user ? "alice" : "model", content: content)
        record.id = id
        return record
    }

    /// Six alternating rows of 14 tokens, ids 1...6, the newest a user row.
    private var sixRows: [MessageRecord] {
        (1...6).map { row(Int64($0), $0 % 2 == 0 ? .user : .assistant) }
    }

    @Test func estimate() {
        #expect(ContextPlan.estimateTokens("") == 4)
        #expect(ContextPlan.estimateTokens(Self.forty) == 14)
        #expect(ContextPlan.estimateTokens("héllo") == 5)
    }

    @Test func fittingContextIsSentWholeWithoutCompaction() {
        let history = [row(1, .user, "hello"), row(2, .assistant, "hi there"), row(3, .user, "how are you")]
        let plan = ContextPlan.make(system: "S", summary: nil, history: history, budget: 1000, thresholdPercent: 75, keepRecent: 2)
        #expect(
            plan
                == ContextPlan(
                    messages: [.system("S"), .user("hello"), .assistant("hi there"), .user("how are you")],
                    estimatedTokens: 4 + 5 + 6 + 6, compactThrough: nil, dropped: 0))
    }

    @Test func overTheThresholdCompactsThroughTheRowBeforeTheKeptTail() {
        // 4 (empty system) + 6 × 14 = 88 tokens: above 75% of 100, within 100. The tail must open with a user
        // row, so the leading assistant row is left out: 4 + 5 × 14 = 74 tokens sent.
        let plan = ContextPlan.make(system: "", summary: nil, history: sixRows, budget: 100, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.compactThrough == 4)
        #expect(plan.estimatedTokens == 74)
        #expect(plan.dropped == 1)
        #expect(plan.messages.count == 6)
        #expect(plan.messages.dropFirst().first?.role == .user)
    }

    @Test func exactlyAtTheThresholdDoesNotCompact() {
        // 88 tokens is exactly 88% of 100.
        let plan = ContextPlan.make(system: "", summary: nil, history: sixRows, budget: 100, thresholdPercent: 88, keepRecent: 2)
        #expect(plan.compactThrough == nil)
    }

    @Test func noCompactionWhenEveryRowIsRecent() {
        let rows = [row(1, .assistant), row(2, .user)]
        let plan = ContextPlan.make(system: "", summary: nil, history: rows, budget: 20, thresholdPercent: 10, keepRecent: 2)
        #expect(plan.compactThrough == nil)
    }

    @Test func toolAndSystemRowsAreLeftOutOfTheCountAndTheMessages() {
        let huge = String(repeating: "t", count: 4000)
        let history = [
            row(1, .user), row(2, .assistant), row(3, .tool, huge), row(4, .assistant), row(5, .user), row(6, .system, huge), row(7, .assistant),
            row(8, .user),
        ]
        let plan = ContextPlan.make(system: "", summary: nil, history: history, budget: 100, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.estimatedTokens == 88)
        #expect(plan.dropped == 0)
        #expect(plan.compactThrough == 5)
        #expect(plan.messages.map(\.role) == [.system, .user, .assistant, .assistant, .user, .assistant, .user])
        #expect(plan.messages.allSatisfy { $0.content != huge })
    }

    @Test func overTheBudgetDropsTheOldestRows() {
        // 4 + 14 + 14 = 32 fits 40 (a third row would make 46), but the kept pair opens with the assistant,
        // which is trimmed so the context opens with the user: 4 + 14 = 18.
        let plan = ContextPlan.make(system: "", summary: nil, history: sixRows, budget: 40, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.dropped == 5)
        #expect(plan.estimatedTokens == 18)
        #expect(plan.messages == [.system(""), .user(Self.forty)])
        #expect(plan.compactThrough == 4)
    }

    @Test func newestUserRowIsKeptEvenWhenItAloneIsTooBig() {
        let history = [row(1, .user, "old"), row(2, .assistant, "older answer"), row(3, .user, String(repeating: "q", count: 400))]
        let plan = ContextPlan.make(system: "", summary: nil, history: history, budget: 10, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.messages == [.system(""), .user(String(repeating: "q", count: 400))])
        #expect(plan.dropped == 2)
        #expect(plan.estimatedTokens == 4 + 104)
    }

    @Test func summaryIsASecondSystemMessageAndCounts() {
        let plan = ContextPlan.make(system: "persona", summary: "User likes tea.", history: [row(1, .user, "hi")], budget: 1000, thresholdPercent: 75, keepRecent: 2)
        let summary = "Summary of the earlier conversation:\nUser likes tea."
        #expect(plan.messages == [.system("persona"), .system(summary), .user("hi")])
        #expect(plan.estimatedTokens == ContextPlan.estimateTokens("persona") + ContextPlan.estimateTokens(summary) + ContextPlan.estimateTokens("hi"))
    }

    @Test func emptySummaryIsLeftOut() {
        let plan = ContextPlan.make(system: "persona", summary: "", history: [row(1, .user, "hi")], budget: 1000, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.messages == [.system("persona"), .user("hi")])
    }

    @Test func compactionRequestFoldsThePreviousSummaryAndTheTurns() {
        let rows = [row(1, .user, "hi"), row(2, .assistant, "hello"), row(3, .tool, "tool output"), row(4, .user, "bye")]
        let request = ContextPlan.compactionRequest(previousSummary: "Likes tea.", rows: rows)
        #expect(request.count == 2)
        #expect(request[0].role == .system)
        #expect(request[1] == .user("Earlier summary:\nLikes tea.\n\nUser: hi\nAssistant: hello\nUser: bye\n"))
    }

    @Test func compactionRequestWithoutAPreviousSummary() {
        let request = ContextPlan.compactionRequest(previousSummary: nil, rows: [row(1, .user, "hi"), row(2, .assistant, "hello")])
        #expect(request[1] == .user("User: hi\nAssistant: hello\n"))
        #expect(ContextPlan.compactionRequest(previousSummary: "", rows: [row(1, .user, "hi")])[1] == .user("User: hi\n"))
    }

    @Test func chatCommandsAndTheGatewaysAnswersAreNotConversation() {
        var gatewayReply = row(3, .assistant, "Models, in order: openai/gpt-4o-mini.")
        gatewayReply.author = Agent.author
        let history = [row(1, .user, "hello"), row(2, .user, "/model"), gatewayReply, row(4, .assistant, "hi"), row(5, .user, "/shrug ok")]
        let plan = ContextPlan.make(system: "S", summary: nil, history: history, budget: 1000, thresholdPercent: 75, keepRecent: 2)
        #expect(plan.messages == [.system("S"), .user("hello"), .assistant("hi"), .user("/shrug ok")])
    }
}
