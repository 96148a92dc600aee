import Foundation
import PluginAPI
import Synchronization

/// Calls and failures of one plugin, across its generations.
final class PluginCallCounters: Sendable {
    let calls = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
}

/// Calls running on one generation of a plugin, so a reload can wait for them before retiring it.
final class GenerationCalls: Sendable {
    let inFlight = Atomic<Int>(0)
}

/// One function of a tool plugin, registered in the ``ToolRegistry`` like any built-in tool.
struct PluginTool: AgentTool {
    let definition: ToolDefinition
    let plugin: any ToolPlugin
    let context: any PluginContext
    let timeout: Duration
    let counters: PluginCallCounters
    let calls: GenerationCalls

    /// The registry definition of `function`; nil when its parameters are not a JSON Schema object.
    static func definition(of function: ToolFunction) -> ToolDefinition? {
        guard let schema = try? JSONValue(parsing: function.parameters), case .object = schema else { return nil }
        return ToolDefinition(name: function.name, description: function.description, parameters: schema)
    }

    func run(arguments: JSONValue, context toolContext: ToolContext) async throws -> String {
        counters.calls.add(1, ordering: .relaxed)
        calls.inFlight.add(1, ordering: .acquiring)
        defer { calls.inFlight.subtract(1, ordering: .releasing) }
        let invocation = ToolInvocation(
            function: definition.name, arguments: arguments.jsonText, messageID: toolContext.messageID, sessionID: toolContext.sessionID,
            channel: toolContext.channel, sender: toolContext.sender)
        do {
            return try await Self.withDeadline(timeout) { [plugin, context] in try await plugin.invoke(invocation, context: context) }
        } catch {
            counters.errors.add(1, ordering: .relaxed)
            switch error {
            case let failure as ToolFailure: throw ToolError(failure.message)
            case let denied as PluginAccessDenied: throw ToolError(denied.description)
            case is CancellationError: throw error
            default: throw ToolError("\(definition.name) failed: \(error)")
            }
        }
    }

    /// Runs `work` and returns its result, or fails when `limit` passes first.
    ///
    /// An in-process plugin cannot be stopped: past the deadline its task is cancelled and the caller gets the
    /// error at once, while a plugin that ignores cancellation runs on detached until it returns.
    static func withDeadline<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                race.start(continuation: continuation, limit: limit, work: work)
            }
        } onCancel: {
            race.settle(.failure(CancellationError()))
        }
    }
}

/// The two runners of ``PluginTool/withDeadline(_:_:)``: whichever settles first resumes the caller and cancels the other.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func start(continuation: CheckedContinuation<T, any Error>, limit: Duration, work: @escaping @Sendable () async throws -> T) {
        // Cancelled before the continuation existed: answer at once.
        if let early = state.withLock({ $0.early }) {
            continuation.resume(with: early)
            return
        }
        state.withLock { $0.continuation = continuation }
        let worker = Task {
            do { self.settle(.success(try await work())) } catch { self.settle(.failure(error)) }
        }
        let timer = Task {
            guard (try? await Task.sleep(for: limit)) != nil else { return }
            self.settle(.failure(ToolError("timed out after \(limit.formatted(.units(allowed: [.seconds, .milliseconds], width: .abbreviated))) (permissions.timeout_seconds)")))
        }
        let settledMeanwhile = state.withLock { state in
            state.tasks = [worker, timer]
            return state.continuation == nil
        }
        if settledMeanwhile {
            worker.cancel()
            timer.cancel()
        }
    }

    func settle(_ result: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state in
            defer {
                state.continuation = nil
                state.tasks = []
            }
            if state.continuation == nil, state.tasks.isEmpty, state.early == nil { state.early = result }
            return (state.continuation, state.tasks)
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        for task in tasks { task.cancel() }
    }
}
