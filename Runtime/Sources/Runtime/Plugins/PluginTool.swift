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
    /// The plugin's tools.json name (equal to its metadata's, checked at load): read on every turn by the tool
    /// rules, so kept here rather than asked of the plugin's code.
    let group: String?
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
    /// error at once, while a plugin that ignores cancellation runs on detached until it returns. The work starts
    /// on the caller's thread (no executor hop for a plugin that answers at once), so a plugin that blocks the
    /// thread without ever suspending holds its caller until it returns; process isolation is the answer to that.
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

/// The runner of ``PluginTool/withDeadline(_:_:)``: the work's own task, and the shared ``DeadlineWatch``;
/// whichever settles first resumes the caller.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var worker: Task<Void, Never>?
        var watch: Int?
    }

    private let state = Mutex(State())

    func start(continuation: CheckedContinuation<T, any Error>, limit: Duration, work: @escaping @Sendable () async throws -> T) {
        // Cancelled before the continuation existed: answer at once. Checked and stored under one lock, so a
        // cancellation cannot slip in between.
        let early = state.withLock { state -> Result<T, any Error>? in
            if state.early == nil { state.continuation = continuation }
            return state.early
        }
        if let early {
            continuation.resume(with: early)
            return
        }
        let watch = DeadlineWatch.shared.add(deadline: .now + limit) { [self] in
            settle(.failure(ToolError("timed out after \(limit.formatted(.units(allowed: [.seconds, .milliseconds], width: .abbreviated))) (permissions.timeout_seconds)")))
        }
        // Started on this thread: a plugin that answers without suspending costs no executor hop.
        let worker = Task.immediate {
            do { self.settle(.success(try await work())) } catch { self.settle(.failure(error)) }
        }
        let settledMeanwhile = state.withLock { state in
            state.worker = worker
            state.watch = watch
            return state.continuation == nil
        }
        if settledMeanwhile {
            worker.cancel()
            DeadlineWatch.shared.remove(watch)
        }
    }

    func settle(_ result: Result<T, any Error>) {
        let (continuation, worker, watch) = state.withLock { state in
            defer {
                state.continuation = nil
                state.worker = nil
                state.watch = nil
            }
            if state.continuation == nil, state.worker == nil, state.early == nil { state.early = result }
            return (state.continuation, state.worker, state.watch)
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        worker?.cancel()
        if let watch { DeadlineWatch.shared.remove(watch) }
    }
}

/// One timer for the deadlines of all plugin calls: a single task sleeps until the earliest, so a call costs a
/// dictionary entry instead of a timer task of its own.
final class DeadlineWatch: Sendable {
    static let shared = DeadlineWatch()

    private struct State {
        var entries: [Int: (deadline: ContinuousClock.Instant, fire: @Sendable () -> Void)] = [:]
        var nextID = 0
        var sleeper: Task<Void, Never>?
        var wakeAt: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Calls `fire` once `deadline` passes, unless ``remove(_:)`` comes first; returns the id to remove it by.
    func add(deadline: ContinuousClock.Instant, fire: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = (deadline, fire)
            if state.wakeAt.map({ deadline < $0 }) ?? true { schedule(at: deadline, &state) }
            return state.nextID
        }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func schedule(at instant: ContinuousClock.Instant, _ state: inout State) {
        state.sleeper?.cancel()
        state.wakeAt = instant
        state.sleeper = Task { [self] in
            guard (try? await Task.sleep(until: instant)) != nil else { return }
            wake()
        }
    }

    private func wake() {
        let due = state.withLock { state -> [@Sendable () -> Void] in
            let now = ContinuousClock.now
            let expired = state.entries.filter { $0.value.deadline <= now }
            for id in expired.keys { state.entries.removeValue(forKey: id) }
            state.sleeper = nil
            state.wakeAt = nil
            if let next = state.entries.values.map(\.deadline).min() { schedule(at: next, &state) }
            return expired.values.map(\.fire)
        }
        for fire in due { fire() }
    }
}
