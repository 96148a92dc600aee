import Foundation
import Synchronization

/// The tools the model may call, by name. Built-in tools register at start; the plugin and skill
/// loaders add and replace theirs at runtime.
public final class ToolRegistry: Sendable {
    /// The longest tool output handed back to the model; longer output is cut with a note.
    public static let maxOutput = 32 << 10

    private struct State {
        var tools: [String: any AgentTool] = [:]
        /// Sorted by name; rebuilt on each change, read on every turn.
        var definitions: [ToolDefinition] = []
        var generation = 0

        mutating func changed() {
            definitions = tools.values.map(\.definition).sorted { $0.name < $1.name }
            generation += 1
        }
    }

    private let state = Mutex(State())

    public init(_ initial: [any AgentTool] = []) {
        replace([], with: initial)
    }

    public func register(_ tool: any AgentTool) {
        replace([], with: [tool])
    }

    /// Removes `names` and registers `tools` in one step, so no call sees a half-swapped set.
    func replace(_ names: [String], with tools: [any AgentTool]) {
        state.withLock {
            var changed = !tools.isEmpty
            for name in names where $0.tools.removeValue(forKey: name) != nil { changed = true }
            for tool in tools { $0.tools[tool.definition.name] = tool }
            if changed { $0.changed() }
        }
    }

    public func remove(_ name: String) {
        replace([name], with: [])
    }

    public var definitions: [ToolDefinition] {
        state.withLock { $0.definitions }
    }

    /// Changes with every registration or removal, so callers can cache what they derive from the definitions.
    public var generation: Int {
        state.withLock { $0.generation }
    }

    /// What the model is offered in one conversation: the definitions `policy` lets its sender trigger.
    public struct Offer: Sendable, Equatable {
        /// The registry's ``generation`` the definitions were taken at (one snapshot, so a cache keyed on both
        /// cannot pair a new generation with old definitions).
        public var generation: Int
        public var definitions: [ToolDefinition]
    }

    public func offer(allowedBy policy: ToolPolicy, context: ToolContext) -> Offer {
        state.withLock { state in
            guard !policy.allowsEverything else { return Offer(generation: state.generation, definitions: state.definitions) }
            let allowed = state.definitions.filter { definition in
                policy.allows(tool: definition.name, group: state.tools[definition.name]?.group, channel: context.channel, sender: context.sender)
            }
            return Offer(generation: state.generation, definitions: allowed)
        }
    }

    /// Runs one call; every failure becomes an error result for the model, never an exception. A call `policy`
    /// does not allow for the sender of `context` is refused without running.
    public func run(_ call: ToolCall, context: ToolContext, policy: ToolPolicy = .open) async -> (output: String, isError: Bool) {
        guard let tool = state.withLock({ $0.tools[call.name] }) else {
            let known = offer(allowedBy: policy, context: context).definitions.map(\.name).joined(separator: ", ")
            return ("error: there is no tool named '\(call.name)' (available: \(known.isEmpty ? "none" : known))", true)
        }
        guard policy.allows(tool: call.name, group: tool.group, channel: context.channel, sender: context.sender) else {
            return (ToolPolicy.refusal(tool: call.name), true)
        }
        let arguments: JSONValue
        do {
            arguments = try JSONValue(parsing: call.arguments.isEmpty ? "{}" : call.arguments)
        } catch {
            return ("error: the arguments are not valid JSON: \(call.arguments.prefix(200))", true)
        }
        do {
            let output = try await tool.run(arguments: arguments, context: context)
            guard output.utf8.count > Self.maxOutput else { return (output, false) }
            return (String(decoding: output.utf8.prefix(Self.maxOutput), as: UTF8.self) + "\n[output cut at \(Self.maxOutput) bytes]", false)
        } catch is CancellationError {
            return ("error: the call was cancelled", true)
        } catch {
            return ("error: \(error)", true)
        }
    }
}
