import Foundation
import Synchronization

/// Turns one journaled message into one answer: chat commands, context with compaction, the model
/// router, and the tool loop.
///
/// Callable from any task; a session's turns are serialised by its lane, so the session state read at
/// the start of a turn is not changed by another turn meanwhile.
public final class Agent: Sendable {
    /// What a turn streams while it runs.
    public enum Event: Sendable {
        case text(String, attempt: Int)
        /// Text streamed so far by `attempt` is void; a new attempt follows.
        case retract(attempt: Int)
    }

    public struct Outcome: Sendable {
        public var kind: OutboxEntry.Kind
        public var text: String
        /// Error code for error replies (`provider_failed`, `no_model`, ...).
        public var code: String?
        public var transcript: [MessageRecord]
        public var usage: [UsageRecord]
        public var providerTime: Duration
        public var model: String?
        /// Calls for the client to run (OpenAI API with client tools); empty otherwise.
        public var clientToolCalls: [ToolCall] = []
        public var finishReason = "stop"
        public var tokens: TokenUsage { usage.reduce(TokenUsage()) { $0 + TokenUsage(input: $1.inputTokens, output: $1.outputTokens) } }
    }

    public static let author = "gateway"

    let store: any GatewayStore
    let router: ModelRouter
    let tools: ToolRegistry
    let traces: TraceRecorder
    let workspace: Workspace
    let configuration: @Sendable () -> GatewayConfig
    private let promptCache = Mutex<(key: PromptKey, prompt: String)?>(nil)

    public init(store: any GatewayStore, router: ModelRouter, tools: ToolRegistry, traces: TraceRecorder, workspace: Workspace, configuration: @escaping @Sendable () -> GatewayConfig) {
        self.store = store
        self.router = router
        self.tools = tools
        self.traces = traces
        self.workspace = workspace
        self.configuration = configuration
    }

    /// Runs the turn for `entry`. Throws only `CancellationError` (`/stop`, shutdown); every other
    /// failure is an error outcome the user sees.
    public func respond(to entry: JournalEntry, emit: @escaping @Sendable (Event) async -> Void) async throws -> Outcome {
        // One read for the session's state and its context rows: this runs for every message.
        let (initialState, history) = try await store.turnContext(sessionID: entry.sessionID, limit: Self.historyLimit)
        var state = initialState
        if let command = ChatCommand.parse(entry.text) {
            return Self.gatewayReply(try await perform(command, entry: entry, state: &state), for: entry)
        }
        let config = configuration()
        let override = state.modelOverride.flatMap(ModelRef.init)
        let budget = contextBudget(override: override, config: config)
        let offer = tools.offer(allowedBy: config.tools, context: Self.toolContext(entry))
        let system = systemPrompt(config, offer: offer)

        var plan = contextPlan(history: history, state: state, system: system, budget: budget, config: config)
        var usage: [UsageRecord] = []
        var providerTime = Duration.zero
        do {
            if let through = plan.compactThrough {
                let outcome = try await compact(entry: entry, state: &state, through: through, override: override)
                usage.append(contentsOf: outcome.records)
                providerTime += outcome.time
                plan = try await contextPlan(entry: entry, state: state, system: system, budget: budget, config: config)
            }
            return try await toolLoop(
                entry: entry, messages: plan.messages, override: override, onlyOverride: false, offered: offer.definitions, clientTools: nil, config: config,
                usage: usage,
                providerTime: providerTime, emit: emit)
        } catch let error as ProviderError {
            var outcome = failure(error, entry: entry)
            outcome.usage = usage
            outcome.providerTime = providerTime
            return outcome
        }
    }

    /// Answers a conversation the caller holds (the OpenAI-compatible API): no session, no journal.
    ///
    /// - Parameters:
    ///   - model: nil for the agent (persona, gateway tools, configured models with failover); a ref to use
    ///     exactly that model, with `clientTools` passed through and their calls returned to the caller.
    public func answer(
        messages: [ChatMessage], model: ModelRef?, clientTools: [ToolDefinition], requestID: String, emit: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        let config = configuration()
        var conversation = messages
        let entry = JournalEntry(id: requestID, channel: "api", sessionKey: "api", sessionID: "", peer: "api", sender: "api", text: "", replyTarget: "")
        let offer = tools.offer(allowedBy: config.tools, context: Self.toolContext(entry))
        if model == nil { conversation.insert(.system(systemPrompt(config, offer: offer)), at: 0) }
        do {
            return try await toolLoop(
                entry: entry, messages: conversation, override: model, onlyOverride: model != nil, offered: offer.definitions,
                clientTools: model == nil ? nil : clientTools, config: config,
                usage: [], providerTime: .zero, emit: emit)
        } catch let error as ProviderError {
            return failure(error, entry: entry)
        }
    }

    private func toolLoop(
        entry: JournalEntry, messages initial: [ChatMessage], override: ModelRef?, onlyOverride: Bool, offered: [ToolDefinition], clientTools: [ToolDefinition]?,
        config: GatewayConfig,
        usage initialUsage: [UsageRecord],
        providerTime initialTime: Duration, emit: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        var messages = initial
        var usage = initialUsage
        var providerTime = initialTime
        var transcript: [MessageRecord] = []
        let context = Self.toolContext(entry)
        let definitions = clientTools ?? offered
        for iteration in 1...config.agent.maxToolIterations {
            let request = ModelRequest(model: "", messages: messages, tools: definitions, maxTokens: config.agent.maxOutputTokens, stream: true)
            let outcome = try await call(request, entry: entry, override: override, onlyOverride: onlyOverride, emit: emit, usage: &usage)
            providerTime += outcome.providerTime
            let reply = outcome.reply
            if clientTools != nil, !reply.toolCalls.isEmpty {
                var result = Outcome(kind: .message, text: reply.text, transcript: [], usage: usage, providerTime: providerTime, model: outcome.model.description)
                result.clientToolCalls = reply.toolCalls
                result.finishReason = "tool_calls"
                return result
            }
            guard !reply.toolCalls.isEmpty else {
                var text = reply.text
                if text.isEmpty { text = reply.finishReason == "length" ? "(the answer was cut off at agent.max_output_tokens)" : "(the model returned an empty answer)" }
                let final = MessageRecord(messageID: "\(entry.id):a", sessionID: entry.sessionID, role: .assistant, author: outcome.model.description, content: text)
                var result = Outcome(kind: .message, text: text, transcript: transcript + [final], usage: usage, providerTime: providerTime, model: outcome.model.description)
                result.finishReason = reply.finishReason
                return result
            }
            messages.append(.assistant(reply.text, toolCalls: reply.toolCalls))
            for (index, call) in reply.toolCalls.enumerated() {
                traces.record(entry.id, "tool.start", ["tool": .string(call.name), "iteration": .number(Double(iteration))])
                let started = ContinuousClock.now
                let result = await tools.run(call, context: context, policy: config.tools)
                traces.record(entry.id, "tool.end", durationMs: (ContinuousClock.now - started).milliseconds, ["tool": .string(call.name), "error": .bool(result.isError)])
                messages.append(ChatMessage(role: .tool, content: result.output, toolCallID: call.id, toolName: call.name, isError: result.isError))
                transcript.append(
                    MessageRecord(
                        messageID: "\(entry.id):t\(iteration).\(index)", sessionID: entry.sessionID, role: .tool, author: call.name,
                        content: "\(call.name)(\(call.arguments)) → \(result.isError ? "error: " : "")\(result.output.prefix(2000))"))
            }
            try Task.checkCancellation()
        }
        let text = "I stopped after \(config.agent.maxToolIterations) rounds of tool calls (agent.max_tool_iterations) without a final answer."
        let final = MessageRecord(messageID: "\(entry.id):a", sessionID: entry.sessionID, role: .assistant, author: Self.author, content: text)
        return Outcome(kind: .message, text: text, transcript: transcript + [final], usage: usage, providerTime: providerTime, model: nil)
    }

    /// One routed model call with its traces, usage rows and streamed events.
    private func call(
        _ request: ModelRequest, entry: JournalEntry, override: ModelRef?, onlyOverride: Bool = false, emit: @escaping @Sendable (Event) async -> Void,
        usage: inout [UsageRecord]
    ) async throws -> ModelRouter.Outcome {
        let traces = self.traces
        let attempts = AttemptLog()
        let outcome = try await router.complete(request, override: override, fallbacks: !onlyOverride) { event in
            switch event {
            case .started(let ref, let attempt):
                let number = attempts.begin()
                traces.record(entry.id, "model.start", ["provider": .string(ref.provider), "model": .string(ref.model), "attempt": .number(Double(attempt)), "call": .number(Double(number))])
            case .text(let text):
                await emit(.text(text, attempt: attempts.current))
            case .discarded:
                await emit(.retract(attempt: attempts.current))
            case .finished(let ref, let attempt, let elapsed, let tokens, let error):
                var detail: [String: JSONValue] = [
                    "provider": .string(ref.provider), "model": .string(ref.model), "attempt": .number(Double(attempt)),
                    "input_tokens": .number(Double(tokens.input)), "output_tokens": .number(Double(tokens.output)),
                ]
                if let error { detail["error"] = .string(error.description) }
                traces.record(entry.id, "model.end", durationMs: elapsed.milliseconds, detail)
                attempts.finish(UsageRecord(messageID: entry.id, sessionID: entry.sessionID, provider: ref.provider, model: ref.model, usage: tokens, latencyMs: elapsed.milliseconds, ok: error == nil))
            }
        }
        usage.append(contentsOf: attempts.records)
        return outcome
    }

    private func compact(entry: JournalEntry, state: inout SessionState, through: Int64, override: ModelRef?) async throws -> (records: [UsageRecord], time: Duration) {
        let after = max(state.contextStart, state.summaryThrough)
        let rows = try await store.messages(sessionID: entry.sessionID, afterRowID: after, limit: 10_000).filter { ($0.id ?? 0) <= through }
        traces.record(entry.id, "compaction.start", ["rows": .number(Double(rows.count))])
        var usage: [UsageRecord] = []
        let request = ModelRequest(model: "", messages: ContextPlan.compactionRequest(previousSummary: state.summary, rows: rows), maxTokens: 1024, stream: false)
        let outcome = try await call(request, entry: entry, override: override, emit: { _ in }, usage: &usage)
        state.summary = outcome.reply.text
        state.summaryThrough = through
        try await store.updateSessionState(sessionID: entry.sessionID, state)
        traces.record(entry.id, "compaction.end", durationMs: outcome.providerTime.milliseconds, ["summary_chars": .number(Double(outcome.reply.text.count))])
        return (usage, outcome.providerTime)
    }

    /// Transcript rows read per turn at most; more than any context budget holds.
    static let historyLimit = 2000

    private func contextPlan(entry: JournalEntry, state: SessionState, system: String, budget: Int, config: GatewayConfig) async throws -> ContextPlan {
        let after = max(state.contextStart, state.summaryThrough)
        let history = try await store.messages(sessionID: entry.sessionID, afterRowID: after, limit: Self.historyLimit)
        return contextPlan(history: history, state: state, system: system, budget: budget, config: config)
    }

    private func contextPlan(history: [MessageRecord], state: SessionState, system: String, budget: Int, config: GatewayConfig) -> ContextPlan {
        ContextPlan.make(
            system: system, summary: state.summary, history: history, budget: budget, thresholdPercent: config.agent.compactionThreshold,
            keepRecent: config.agent.keepRecentMessages)
    }

    /// Tokens the prompt may use: the context window of the session's first model minus the answer's share.
    private func contextBudget(override: ModelRef?, config: GatewayConfig) -> Int {
        let window = (override ?? router.models.first).flatMap { router.contextWindow(for: $0) } ?? 32_768
        return max(256, window - config.agent.maxOutputTokens)
    }

    private static func toolContext(_ entry: JournalEntry) -> ToolContext {
        ToolContext(messageID: entry.id, sessionID: entry.sessionID, channel: entry.channel, sender: entry.sender)
    }

    /// What the system prompt is made of: the persona file as the file system last reported it, and the tools.
    private struct PromptKey: Equatable {
        var path = ""
        var persona: FileStamp?
        /// The registry generation the offered tools come from (it fixes their descriptions), and their names: the
        /// tools this conversation's sender is offered (tools.rules).
        var toolsGeneration: Int
        var offered: [String]
    }

    /// The persona file's text plus the tool notes, rebuilt only when the file's modification time or size
    /// or the registered tools change (one `stat` per turn, so an edit applies to the next message
    /// without a reload).
    private func systemPrompt(_ config: GatewayConfig, offer: ToolRegistry.Offer) -> String {
        var key = PromptKey(toolsGeneration: offer.generation, offered: offer.definitions.map(\.name))
        if !config.agent.personaFile.isEmpty {
            key.path = workspace.path(config.agent.personaFile).path
            key.persona = FileStamp(path: key.path)
        }
        if let cached = promptCache.withLock({ $0 }), cached.key == key { return cached.prompt }
        let personaText = key.persona == nil ? nil : try? String(contentsOfFile: key.path, encoding: .utf8)
        let prompt = Persona.systemPrompt(personaText: personaText, tools: offer.definitions)
        promptCache.withLock { $0 = (key, prompt) }
        return prompt
    }

    // MARK: - Commands

    private func perform(_ command: ChatCommand, entry: JournalEntry, state: inout SessionState) async throws -> String {
        switch command {
        case .new, .reset:
            // From this command on: messages queued behind it belong to the fresh conversation.
            if let row = try await store.rowID(messageID: entry.id) {
                state.startFresh(after: row)
            } else {
                state.startFresh(after: try await store.lastMessageRowID(sessionID: entry.sessionID))
            }
            try await store.updateSessionState(sessionID: entry.sessionID, state)
            return "Started a fresh conversation. (The earlier transcript is kept but no longer sent to the model.)"
        case .stop:
            return Self.nothingToStop
        case .help:
            return ChatCommand.helpText
        case .model(nil):
            let configured = router.models.map(\.description)
            if let current = state.modelOverride {
                return "This session uses \(current) (set with /model), then \(configured.joined(separator: ", ").ifEmpty("no fallbacks")). /model default goes back."
            }
            return configured.isEmpty ? "No model is configured (agent.models is empty)." : "Models, in order: \(configured.joined(separator: ", "))."
        case .model(let argument?):
            if argument == "default" || argument == "reset" {
                state.modelOverride = nil
                try await store.updateSessionState(sessionID: entry.sessionID, state)
                return "Back to the configured models: \(router.models.map(\.description).joined(separator: ", ").ifEmpty("none configured"))."
            }
            guard let ref = ModelRef(argument) else { return "'\(argument)' is not a model ref; write provider/model, e.g. /model openai/gpt-4o-mini." }
            if let problem = router.problem(with: ref) { return "Cannot use \(ref): \(problem)." }
            state.modelOverride = ref.description
            try await store.updateSessionState(sessionID: entry.sessionID, state)
            return "This session now uses \(ref), with the configured models as fallbacks."
        case .status:
            let config = configuration()
            let override = state.modelOverride.flatMap(ModelRef.init)
            let model = (override ?? router.models.first)?.description ?? "none configured"
            let budget = contextBudget(override: override, config: config)
            let plan = try await contextPlan(entry: entry, state: state, system: systemPrompt(config, offer: tools.offer(allowedBy: config.tools, context: Self.toolContext(entry))), budget: budget, config: config)
            let providers = router.health().map { "\($0.name) (\($0.kind)): breaker \($0.breaker), \($0.calls) calls, \($0.failures) failed" }
            return """
                Session \(entry.sessionKey)
                Model: \(model)\(state.modelOverride == nil ? "" : " (set with /model)")
                Context: about \(plan.estimatedTokens) of \(budget) tokens, \(plan.messages.count - 1) messages\(state.summary == nil ? "" : ", older turns summarised")
                Providers: \(providers.joined(separator: "; ").ifEmpty("none configured"))
                """
        }
    }

    // MARK: - Outcomes

    static let nothingToStop = "Nothing was running, so there was nothing to stop."

    /// A reply written by the gateway itself (chat commands), not by a model.
    static func gatewayReply(_ text: String, for entry: JournalEntry) -> Outcome {
        let record = MessageRecord(messageID: "\(entry.id):a", sessionID: entry.sessionID, role: .assistant, author: author, content: text)
        return Outcome(kind: .message, text: text, code: nil, transcript: [record], usage: [], providerTime: .zero, model: nil)
    }

    private func failure(_ error: ProviderError, entry: JournalEntry) -> Outcome {
        let (code, text): (String, String) =
            switch error {
            case .notConfigured(let reason): ("no_model", "I cannot answer yet: \(reason).")
            default: ("provider_failed", "Sorry, no model could answer this message: \(error.description). Your message is saved; send it again or try /model.")
            }
        let record = MessageRecord(messageID: "\(entry.id):a", sessionID: entry.sessionID, role: .system, author: Self.author, content: text)
        return Outcome(kind: .error, text: text, code: code, transcript: [record], usage: [], providerTime: .zero, model: nil)
    }
}

/// Numbers the attempts of one routed call and collects their usage rows (the router reports them in order).
private final class AttemptLog: Sendable {
    private let state = Mutex<(count: Int, records: [UsageRecord])>((0, []))

    func begin() -> Int { state.withLock { $0.count += 1; return $0.count } }
    var current: Int { state.withLock { $0.count } }
    func finish(_ record: UsageRecord) { state.withLock { $0.records.append(record) } }
    var records: [UsageRecord] { state.withLock { $0.records } }
}
