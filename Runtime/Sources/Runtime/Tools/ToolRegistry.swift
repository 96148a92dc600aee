import Foundation
import Synchronization

/// The tools the model may call, by name. Built-in tools register at start; the plugin and skill
/// loaders add and replace theirs at runtime.
public final class ToolRegistry: Sendable {
    /// The longest tool output handed back to the model; longer output is cut with a note.
    public static let maxOutput = 32 << 10

    private let tools = Mutex<[String: any AgentTool]>([:])

    public init(_ initial: [any AgentTool] = []) {
        for tool in initial { register(tool) }
    }

    public func register(_ tool: any AgentTool) {
        tools.withLock { $0[tool.definition.name] = tool }
    }

    public func remove(_ name: String) {
        tools.withLock { _ = $0.removeValue(forKey: name) }
    }

    public var definitions: [ToolDefinition] {
        tools.withLock { $0.values.map(\.definition) }.sorted { $0.name < $1.name }
    }

    /// Runs one call; every failure becomes an error result for the model, never an exception.
    public func run(_ call: ToolCall, context: ToolContext) async -> (output: String, isError: Bool) {
        guard let tool = tools.withLock({ $0[call.name] }) else {
            let known = definitions.map(\.name).joined(separator: ", ")
            return ("error: there is no tool named '\(call.name)' (available: \(known.isEmpty ? "none" : known))", true)
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
