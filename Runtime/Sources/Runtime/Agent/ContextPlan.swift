/// Which transcript rows go to the model, and whether older ones should be summarised first.
///
/// Pure: the agent feeds it the transcript since the last reset and acts on the plan.
public struct ContextPlan: Sendable, Equatable {
    public var messages: [ChatMessage]
    public var estimatedTokens: Int
    /// Summarise rows up to and including this row id before answering; nil when the context fits.
    public var compactThrough: Int64?
    /// Rows left out because even the newest ones did not fit the budget.
    public var dropped: Int

    /// A rough token count: about four bytes of text per token, plus the per-message framing.
    public static func estimateTokens(_ text: String) -> Int { text.utf8.count / 4 + 4 }

    /// The tokens tool declarations take in a request: their names, descriptions and JSON schemas are part of
    /// the prompt the server counts against its context.
    public static func estimateTokens(tools: [ToolDefinition]) -> Int {
        tools.reduce(0) { $0 + estimateTokens($1.name + $1.description + $1.parameters.jsonText) + 8 }
    }

    /// - Parameters:
    ///   - system: the system prompt (persona and tool notes).
    ///   - summary: the summary of older turns, if any.
    ///   - history: transcript rows since the reset or summary, oldest first, the new user message last.
    ///   - budget: tokens the prompt may use (context window minus the answer's share and the tool schemas).
    ///   - thresholdPercent: compaction starts when the prompt passes this share of the budget.
    ///   - keepRecent: newest rows that are never summarised.
    ///
    /// Rows without an id are the turn's own messages, not stored yet: never summarised, and the newest of them is
    /// always sent (the context ends with it); older ones may be left out like any row when the budget is short.
    public static func make(system: String, summary: String?, history: [MessageRecord], budget: Int, thresholdPercent: Int, keepRecent: Int) -> ContextPlan {
        // Chat commands and the gateway's answers to them are for the user, not part of the conversation.
        let rows = history.filter { row in
            switch row.role {
            case .user: ChatCommand.parse(row.content) == nil
            case .assistant: row.author != Agent.author
            case .system, .tool: false
            }
        }
        var head = [ChatMessage.system(system)]
        if let summary, !summary.isEmpty {
            head.append(.system("Summary of the earlier conversation:\n\(summary)"))
        }
        let headTokens = head.reduce(0) { $0 + estimateTokens($1.content) }
        let costs = rows.map { estimateTokens($0.content) }
        let total = headTokens + costs.reduce(0, +)

        var compactThrough: Int64?
        if total * 100 > budget * thresholdPercent, rows.count > keepRecent {
            compactThrough = rows[..<(rows.count - keepRecent)].last(where: { $0.id != nil })?.id
        }
        // Whatever happens with compaction, what is sent must fit: keep the newest rows that do.
        var kept = 0, used = headTokens
        for cost in costs.reversed() {
            guard used + cost <= budget || kept == 0 else { break }
            used += cost
            kept += 1
        }
        // A context must open with the user's turn (Anthropic refuses one that opens with the assistant).
        var tail = rows.suffix(kept)
        while tail.count > 1, tail.first?.role == .assistant { tail = tail.dropFirst() }
        let chosen = tail.map { ChatMessage(role: $0.role == .user ? .user : .assistant, content: $0.content) }
        let sentTokens = headTokens + tail.reduce(0) { $0 + estimateTokens($1.content) }
        return ContextPlan(messages: head + chosen, estimatedTokens: sentTokens, compactThrough: compactThrough, dropped: rows.count - tail.count)
    }

    /// The request that asks the model to fold older turns (and the previous summary) into one summary.
    public static func compactionRequest(previousSummary: String?, rows: [MessageRecord]) -> [ChatMessage] {
        var transcript = ""
        if let previousSummary, !previousSummary.isEmpty { transcript += "Earlier summary:\n\(previousSummary)\n\n" }
        for row in rows where row.role == .user || row.role == .assistant {
            transcript += "\(row.role == .user ? "User" : "Assistant"): \(row.content)\n"
        }
        return [
            .system(
                "You compress conversations. Write a concise summary of the conversation below for your own later use: facts about the user, decisions, open questions, promises made, names, numbers. Plain prose, no preamble."
            ),
            .user(transcript),
        ]
    }
}
