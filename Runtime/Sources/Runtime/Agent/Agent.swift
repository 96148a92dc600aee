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
        /// Error code for error replies (`provider_failed`, `no_model`, `context_overflow`, ...).
        public var code: String?
        /// The turn's transcript rows in conversation order: its user messages first (and those that joined it
        /// where they joined), tool results, the answer.
        public var transcript: [MessageRecord]
        public var usage: [UsageRecord]
        public var providerTime: Duration
        public var model: String?
        /// Calls for the client to run (OpenAI API with client tools); empty otherwise.
        public var clientToolCalls: [ToolCall] = []
        public var finishReason = "stop"
        /// Why the model could not answer, for callers that shape their own errors (the OpenAI-compatible API).
        public var failure: ProviderError?
        public var tokens: TokenUsage { usage.reduce(TokenUsage()) { $0 + TokenUsage(input: $1.inputTokens, output: $1.outputTokens) } }
    }

    /// What a turn has done so far; kept when a model call fails, so the tool results and the time spent reach
    /// the transcript and the usage rows with the error reply.
    struct Progress {
        var transcript: [MessageRecord]
        var usage: [UsageRecord] = []
        var providerTime = Duration.zero
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

    /// Runs the turn that answers `entries` (one message, or several a session's queue mode collected), the
    /// first of which names the turn. A model that cannot answer is an error outcome the user sees; what throws is
    /// cancellation (`/stop`, shutdown) and the gateway's own failures (its store).
    ///
    /// The context is the session's transcript (earlier turns) followed by these messages: the transcript never
    /// holds a message that has not been answered, so a turn cannot see a later message of its session.
    ///
    /// - Parameters:
    ///   - steer: hands over messages that arrived meanwhile, asked before each model call after a tool round;
    ///     they join this turn (`sessions.queue: steer`).
    public func respond(
        to entries: [JournalEntry], steer: @escaping @Sendable () async -> [JournalEntry] = { [] }, emit: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        guard let turn = entries.first else { preconditionFailure("a turn answers at least one message") }
        // One read for the session's state and its context rows: this runs for every message.
        let (initialState, stored) = try await store.turnContext(sessionID: turn.sessionID, limit: Self.historyLimit)
        var state = initialState
        if entries.count == 1, let command = ChatCommand.parse(turn.text) {
            return Self.gatewayReply(try await perform(command, entry: turn, state: &state), for: entries)
        }
        let asked = entries.map(Self.userRecord)
        var progress = Progress(transcript: asked)
        let config = configuration()
        let override = state.modelOverride.flatMap(ModelRef.init)
        let offer = tools.offer(allowedBy: config.tools, context: Self.toolContext(turn))
        let budget = contextBudget(override: override, config: config, tools: offer.definitions)
        let system = systemPrompt(config, offer: offer)
        var plan = contextPlan(history: stored + asked, state: state, system: system, budget: budget, config: config)
        do {
            if let through = plan.compactThrough {
                try await compact(turn: turn, state: &state, through: through, override: override, progress: &progress)
                plan = try await contextPlan(turn: turn, asked: asked, state: state, system: system, budget: budget, config: config)
            }
            return try await toolLoop(
                turn: turn, messages: plan.messages, override: override, onlyOverride: false, offered: offer.definitions, clientTools: nil,
                options: Options(maxTokens: config.agent.maxOutputTokens), config: config, steer: steer, progress: &progress, emit: emit)
        } catch let error as ProviderError {
            if Task.isCancelled { throw CancellationError() }
            return failure(error, turn: turn, progress: progress)
        }
    }

    /// What a caller of the OpenAI-compatible API set for its request.
    public struct Options: Sendable {
        public var maxTokens: Int
        public var toolChoice: ToolChoice?
        public var sampling: Sampling

        public init(maxTokens: Int, toolChoice: ToolChoice? = nil, sampling: Sampling = Sampling()) {
            self.maxTokens = maxTokens
            self.toolChoice = toolChoice
            self.sampling = sampling
        }
    }

    /// Answers a conversation the caller holds (the OpenAI-compatible API): no session, no journal.
    ///
    /// - Parameters:
    ///   - model: nil for the agent (persona, gateway tools, configured models with failover); a ref to use
    ///     exactly that model, with `clientTools` passed through and their calls returned to the caller.
    ///   - options: the caller's generation parameters; nil `maxTokens` means `agent.max_output_tokens`.
    public func answer(
        messages: [ChatMessage], model: ModelRef?, clientTools: [ToolDefinition], requestID: String, maxTokens: Int? = nil, toolChoice: ToolChoice? = nil,
        sampling: Sampling = Sampling(), emit: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        let config = configuration()
        var conversation = messages
        let turn = JournalEntry(id: requestID, channel: "api", sessionKey: "api", sessionID: "", peer: "api", sender: "api", text: "", replyTarget: "")
        let offer = tools.offer(allowedBy: config.tools, context: Self.toolContext(turn))
        if model == nil { conversation.insert(.system(systemPrompt(config, offer: offer)), at: 0) }
        var progress = Progress(transcript: [])
        // The caller's tool_choice names the caller's tools: it goes with them, not with the gateway's own.
        let options = Options(maxTokens: maxTokens ?? config.agent.maxOutputTokens, toolChoice: model == nil ? nil : toolChoice, sampling: sampling)
        do {
            return try await toolLoop(
                turn: turn, messages: conversation, override: model, onlyOverride: model != nil, offered: offer.definitions,
                clientTools: model == nil ? nil : clientTools, options: options, config: config, steer: { [] }, progress: &progress, emit: emit)
        } catch let error as ProviderError {
            if Task.isCancelled { throw CancellationError() }
            return failure(error, turn: turn, progress: progress)
        }
    }

    private func toolLoop(
        turn: JournalEntry, messages initial: [ChatMessage], override: ModelRef?, onlyOverride: Bool, offered: [ToolDefinition], clientTools: [ToolDefinition]?,
        options: Options, config: GatewayConfig, steer: @Sendable () async -> [JournalEntry], progress: inout Progress,
        emit: @escaping @Sendable (Event) async -> Void
    ) async throws -> Outcome {
        var messages = initial
        let context = Self.toolContext(turn)
        let definitions = clientTools ?? offered
        for iteration in 1...config.agent.maxToolIterations {
            if iteration > 1 {
                let joined = await steer()
                for entry in joined {
                    traces.record(entry.id, "steered", ["answered_by": .string(turn.id), "iteration": .number(Double(iteration))])
                    messages.append(.user(entry.text))
                    progress.transcript.append(Self.userRecord(entry))
                }
            }
            let request = ModelRequest(
                model: "", messages: messages, tools: definitions, maxTokens: options.maxTokens, stream: true, toolChoice: iteration == 1 ? options.toolChoice : nil,
                firstRound: iteration == 1 && clientTools == nil, sampling: options.sampling)
            let outcome = try await call(request, turn: turn, override: override, onlyOverride: onlyOverride, emit: emit, progress: &progress)
            let reply = outcome.reply
            if clientTools != nil, !reply.toolCalls.isEmpty {
                var result = Outcome(kind: .message, text: reply.text, transcript: [], usage: progress.usage, providerTime: progress.providerTime, model: outcome.model.description)
                result.clientToolCalls = reply.toolCalls
                result.finishReason = "tool_calls"
                return result
            }
            guard !reply.toolCalls.isEmpty else {
                var text = reply.text
                if text.isEmpty { text = reply.finishReason == "length" ? "(the answer was cut off at agent.max_output_tokens)" : "(the model returned an empty answer)" }
                let final = MessageRecord(messageID: "\(turn.id):a", sessionID: turn.sessionID, role: .assistant, author: outcome.model.description, content: text)
                var result = Outcome(
                    kind: .message, text: text, transcript: progress.transcript + [final], usage: progress.usage, providerTime: progress.providerTime,
                    model: outcome.model.description)
                result.finishReason = reply.finishReason
                return result
            }
            messages.append(.assistant(reply.text, toolCalls: reply.toolCalls))
            for (index, call) in reply.toolCalls.enumerated() {
                traces.record(turn.id, "tool.start", ["tool": .string(call.name), "iteration": .number(Double(iteration))])
                let started = ContinuousClock.now
                let result = await tools.run(call, context: context, policy: config.tools)
                traces.record(turn.id, "tool.end", durationMs: (ContinuousClock.now - started).milliseconds, ["tool": .string(call.name), "error": .bool(result.isError)])
                messages.append(ChatMessage(role: .tool, content: result.output, toolCallID: call.id, toolName: call.name, isError: result.isError))
                progress.transcript.append(
                    MessageRecord(
                        messageID: "\(turn.id):t\(iteration).\(index)", sessionID: turn.sessionID, role: .tool, author: call.name,
                        content: "\(call.name)(\(call.arguments)) → \(result.isError ? "error: " : "")\(result.output.prefix(2000))"))
            }
            try Task.checkCancellation()
        }
        let text = "I stopped after \(config.agent.maxToolIterations) rounds of tool calls (agent.max_tool_iterations) without a final answer."
        let final = MessageRecord(messageID: "\(turn.id):a", sessionID: turn.sessionID, role: .assistant, author: Self.author, content: text)
        return Outcome(kind: .message, text: text, transcript: progress.transcript + [final], usage: progress.usage, providerTime: progress.providerTime, model: nil)
    }

    /// One routed model call with its traces, usage rows and streamed events; the attempts' usage and time are
    /// added to `progress` whether the call succeeds or not.
    private func call(
        _ request: ModelRequest, turn: JournalEntry, override: ModelRef?, onlyOverride: Bool = false, emit: @escaping @Sendable (Event) async -> Void,
        progress: inout Progress
    ) async throws -> ModelRouter.Outcome {
        let traces = self.traces
        let attempts = AttemptLog()
        defer {
            progress.usage += attempts.records
            progress.providerTime += attempts.elapsed
        }
        return try await router.complete(request, override: override, fallbacks: !onlyOverride, requestID: turn.id) { event in
            await Self.observe(event, turn: turn, attempts: attempts, traces: traces, emit: emit)
        }
    }

    private static func observe(
        _ event: ModelRouter.Event, turn: JournalEntry, attempts: AttemptLog, traces: TraceRecorder, emit: @Sendable (Event) async -> Void
    ) async {
        switch event {
        case .started(let ref, let attempt):
            let number = attempts.begin()
            traces.record(turn.id, "model.start", ["provider": .string(ref.provider), "model": .string(ref.model), "attempt": .number(Double(attempt)), "call": .number(Double(number))])
        case .text(let text):
            await emit(.text(text, attempt: attempts.current))
        case .discarded:
            await emit(.retract(attempt: attempts.current))
        case .finished(let ref, let attempt, let elapsed, let tokens, let error):
            var detail: [String: JSONValue] = [
                "provider": .string(ref.provider), "model": .string(ref.model), "attempt": .number(Double(attempt)),
                "input_tokens": .number(Double(tokens.input)), "output_tokens": .number(Double(tokens.output)),
                "usage": .string(tokens.estimated ? "estimated" : "reported"),
            ]
            if let error {
                detail["error"] = .string(error.description)
                detail["usage"] = nil
                if let status = error.status { detail["status"] = .number(Double(status)) }
            }
            traces.record(turn.id, "model.end", durationMs: elapsed.milliseconds, detail)
            attempts.finish(
                UsageRecord(messageID: turn.id, sessionID: turn.sessionID, provider: ref.provider, model: ref.model, usage: tokens, latencyMs: elapsed.milliseconds, ok: error == nil),
                elapsed: elapsed)
        }
    }

    private func compact(turn: JournalEntry, state: inout SessionState, through: Int64, override: ModelRef?, progress: inout Progress) async throws {
        let after = max(state.contextStart, state.summaryThrough)
        let rows = try await store.messages(sessionID: turn.sessionID, afterRowID: after, limit: 10_000).filter { ($0.id ?? 0) <= through }
        traces.record(turn.id, "compaction.start", ["rows": .number(Double(rows.count))])
        let request = ModelRequest(model: "", messages: ContextPlan.compactionRequest(previousSummary: state.summary, rows: rows), maxTokens: 1024, stream: false)
        let before = progress.providerTime
        let outcome = try await call(request, turn: turn, override: override, emit: { _ in }, progress: &progress)
        state.summary = outcome.reply.text
        state.summaryThrough = through
        try await store.updateSessionState(sessionID: turn.sessionID, state)
        traces.record(turn.id, "compaction.end", durationMs: (progress.providerTime - before).milliseconds, ["summary_chars": .number(Double(outcome.reply.text.count))])
    }

    /// Transcript rows read per turn at most; more than any context budget holds.
    static let historyLimit = 2000

    /// The plan after a compaction: the stored rows since the new summary, then the turn's own messages.
    func contextPlan(turn: JournalEntry, asked: [MessageRecord], state: SessionState, system: String, budget: Int, config: GatewayConfig) async throws -> ContextPlan {
        let after = max(state.contextStart, state.summaryThrough)
        let history = try await store.messages(sessionID: turn.sessionID, afterRowID: after, limit: Self.historyLimit)
        return contextPlan(history: history + asked, state: state, system: system, budget: budget, config: config)
    }

    func contextPlan(history: [MessageRecord], state: SessionState, system: String, budget: Int, config: GatewayConfig) -> ContextPlan {
        ContextPlan.make(
            system: system, summary: state.summary, history: history, budget: budget, thresholdPercent: config.agent.compactionThreshold,
            keepRecent: config.agent.keepRecentMessages)
    }

    /// Tokens the prompt may use: the context window of the session's first model minus the answer's share and
    /// the tool declarations sent with every call.
    func contextBudget(override: ModelRef?, config: GatewayConfig, tools: [ToolDefinition]) -> Int {
        let window = (override ?? router.models.first).flatMap { router.contextWindow(for: $0) } ?? 32_768
        return max(256, window - config.agent.maxOutputTokens - ContextPlan.estimateTokens(tools: tools))
    }

    /// A turn's user message as the transcript keeps it: written with the turn's end, dated when it arrived.
    static func userRecord(_ entry: JournalEntry) -> MessageRecord {
        MessageRecord(messageID: entry.id, sessionID: entry.sessionID, role: .user, author: entry.sender, content: entry.text, createdAt: entry.receivedAt)
    }

    static func toolContext(_ entry: JournalEntry) -> ToolContext {
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
    func systemPrompt(_ config: GatewayConfig, offer: ToolRegistry.Offer) -> String {
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

    // MARK: - Outcomes

    static let nothingToStop = "Nothing was running, so there was nothing to stop."

    /// A reply written by the gateway itself (chat commands), not by a model, with the messages it answers.
    static func gatewayReply(_ text: String, for entries: [JournalEntry]) -> Outcome {
        let turn = entries[0]
        let record = MessageRecord(messageID: "\(turn.id):a", sessionID: turn.sessionID, role: .assistant, author: author, content: text)
        return Outcome(kind: .message, text: text, code: nil, transcript: entries.map(userRecord) + [record], usage: [], providerTime: .zero, model: nil)
    }

    /// The error reply of a turn the gateway itself could not run (its store failed): one sentence, the details in the log.
    static func internalFailure(for entries: [JournalEntry]) -> Outcome {
        let turn = entries[0]
        let text = "Sorry, something went wrong inside the gateway while answering this message (it is logged). Send it again to retry."
        let record = MessageRecord(messageID: "\(turn.id):a", sessionID: turn.sessionID, role: .system, author: author, content: text)
        return Outcome(kind: .error, text: text, code: "internal_error", transcript: entries.map(userRecord) + [record], usage: [], providerTime: .zero, model: nil)
    }

    /// The error reply of a turn no model could answer: one sentence for the person, the details in the log and
    /// the trace; what the turn did before the failure (tool results, usage, time) is kept.
    private func failure(_ error: ProviderError, turn: JournalEntry, progress: Progress) -> Outcome {
        let (code, text): (String, String) =
            switch error {
            case .notConfigured(let reason): ("no_model", "I cannot answer yet: \(reason).")
            case _ where error.failures.contains(where: { if case .contextOverflow = $0 { true } else { false } }):
                ("context_overflow", "Sorry, this conversation is too long for the model's context. Send /new to start a fresh one, or a shorter message.")
            default: ("provider_failed", "Sorry, I could not answer this message: \(error.summary). It is saved; send it again to retry.")
            }
        traces.record(turn.id, "turn.failed", ["code": .string(code), "error": .string(error.description)])
        let record = MessageRecord(messageID: "\(turn.id):a", sessionID: turn.sessionID, role: .system, author: Self.author, content: text)
        var outcome = Outcome(
            kind: .error, text: text, code: code, transcript: progress.transcript + [record], usage: progress.usage, providerTime: progress.providerTime, model: nil)
        outcome.failure = error
        return outcome
    }
}

/// Numbers the attempts of one routed call and collects their usage rows and time (the router reports them in order).
private final class AttemptLog: Sendable {
    private let state = Mutex<(count: Int, records: [UsageRecord], elapsed: Duration)>((0, [], .zero))

    func begin() -> Int { state.withLock { $0.count += 1; return $0.count } }
    var current: Int { state.withLock { $0.count } }
    func finish(_ record: UsageRecord, elapsed: Duration) {
        state.withLock {
            $0.records.append(record)
            $0.elapsed += elapsed
        }
    }
    var records: [UsageRecord] { state.withLock { $0.records } }
    var elapsed: Duration { state.withLock { $0.elapsed } }
}
