import Foundation

extension Agent {
    /// Runs a chat command of the session (`/new`, `/model`, `/status`, ...) and returns the gateway's answer.
    func perform(_ command: ChatCommand, entry: JournalEntry, state: inout SessionState) async throws -> String {
        switch command {
        case .new, .reset:
            // The transcript holds the turns before this command (messages queued behind it are not in it yet):
            // they all stay out of the context from now on.
            state.startFresh(after: try await store.lastMessageRowID(sessionID: entry.sessionID))
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
            let offer = tools.offer(allowedBy: config.tools, context: Self.toolContext(entry))
            let budget = contextBudget(override: override, config: config, tools: offer.definitions)
            let plan = try await contextPlan(turn: entry, asked: [], state: state, system: systemPrompt(config, offer: offer), budget: budget, config: config)
            let providers = router.health().map { "\($0.name) (\($0.kind)): breaker \($0.breaker), \($0.calls) calls, \($0.failures) failed" }
            return """
                Session \(entry.sessionKey)
                Model: \(model)\(state.modelOverride == nil ? "" : " (set with /model)")
                Context: about \(plan.estimatedTokens) of \(budget) tokens, \(plan.messages.count - 1) messages\(state.summary == nil ? "" : ", older turns summarised")
                Providers: \(providers.joined(separator: "; ").ifEmpty("none configured"))
                """
        }
    }
}
