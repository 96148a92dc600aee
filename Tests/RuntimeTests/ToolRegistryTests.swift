import Foundation
import Testing

@testable import Runtime

/// Returns its `text` argument, or `<none>`.
private struct EchoTool: AgentTool {
    var definition: ToolDefinition { ToolDefinition(name: "echo", description: "Echoes text.", parameters: .object(["type": .string("object")])) }

    func run(arguments: JSONValue, context: ToolContext) async throws -> String {
        arguments["text"]?.stringValue ?? "<none>"
    }
}

/// Always fails the way a tool tells the model it was misused.
private struct FailingTool: AgentTool {
    var definition: ToolDefinition { ToolDefinition(name: "fail", description: "Fails.", parameters: .object([:])) }

    func run(arguments: JSONValue, context: ToolContext) async throws -> String {
        throw ToolError("city is required")
    }
}

/// Returns `count` bytes of `a`.
private struct SizedTool: AgentTool {
    var count: Int
    var definition: ToolDefinition { ToolDefinition(name: "sized", description: "Big output.", parameters: .object([:])) }

    func run(arguments: JSONValue, context: ToolContext) async throws -> String {
        String(repeating: "a", count: count)
    }
}

@Suite struct ToolRegistryTests {
    private let context = ToolContext(messageID: "m1", sessionID: "s1", channel: "test", sender: "alice")

    private func call(_ name: String, _ arguments: String = "{}") -> ToolCall { ToolCall(id: "call_1", name: name, arguments: arguments) }

    @Test func runsARegisteredTool() async {
        let registry = ToolRegistry([EchoTool()])
        let result = await registry.run(call("echo", #"{"text":"hi"}"#), context: context)
        #expect(result.output == "hi")
        #expect(!result.isError)
    }

    @Test func emptyArgumentsAreAnEmptyObject() async {
        let result = await ToolRegistry([EchoTool()]).run(call("echo", ""), context: context)
        #expect(result.output == "<none>")
        #expect(!result.isError)
    }

    @Test func unknownToolListsTheAvailableOnes() async {
        let registry = ToolRegistry([FailingTool(), EchoTool()])
        let result = await registry.run(call("weather"), context: context)
        #expect(result.output == "error: there is no tool named 'weather' (available: echo, fail)")
        #expect(result.isError)
    }

    @Test func unknownToolInAnEmptyRegistry() async {
        let result = await ToolRegistry().run(call("echo"), context: context)
        #expect(result.output == "error: there is no tool named 'echo' (available: none)")
        #expect(result.isError)
    }

    @Test func invalidJSONArgumentsAreAnError() async {
        let result = await ToolRegistry([EchoTool()]).run(call("echo", "{text: hi"), context: context)
        #expect(result.output == "error: the arguments are not valid JSON: {text: hi")
        #expect(result.isError)
    }

    @Test func toolErrorReachesTheModel() async {
        let result = await ToolRegistry([FailingTool()]).run(call("fail"), context: context)
        #expect(result.output == "error: city is required")
        #expect(result.isError)
    }

    @Test func longOutputIsCutWithANote() async {
        let result = await ToolRegistry([SizedTool(count: ToolRegistry.maxOutput + 10)]).run(call("sized"), context: context)
        #expect(result.output == String(repeating: "a", count: ToolRegistry.maxOutput) + "\n[output cut at \(ToolRegistry.maxOutput) bytes]")
        #expect(!result.isError)
    }

    @Test func outputOfExactlyTheLimitIsKept() async {
        let result = await ToolRegistry([SizedTool(count: ToolRegistry.maxOutput)]).run(call("sized"), context: context)
        #expect(result.output.utf8.count == ToolRegistry.maxOutput)
        #expect(!result.output.contains("[output cut"))
    }

    @Test func definitionsAreSortedAndRemoveWorks() {
        let registry = ToolRegistry([FailingTool(), EchoTool(), CurrentTimeTool()])
        #expect(registry.definitions.map(\.name) == ["current_time", "echo", "fail"])
        registry.remove("echo")
        #expect(registry.definitions.map(\.name) == ["current_time", "fail"])
    }

    @Test func currentTimeRefusesAnUnknownTimeZone() async {
        await #expect(throws: ToolError("unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as Europe/Paris")) {
            try await CurrentTimeTool().run(arguments: .object(["timezone": .string("Mars/Olympus_Mons")]), context: context)
        }
    }

    @Test func currentTimeErrorThroughTheRegistry() async {
        let result = await ToolRegistry([CurrentTimeTool()]).run(call("current_time", #"{"timezone":"Nowhere/Atlantis"}"#), context: context)
        #expect(result.isError)
        #expect(result.output.hasPrefix("error: unknown time zone 'Nowhere/Atlantis'"))
    }

    @Test func currentTimeNamesTheZoneItUsed() async throws {
        let output = try await CurrentTimeTool().run(arguments: .object(["timezone": .string("Asia/Tokyo")]), context: context)
        #expect(output.hasSuffix(", time zone Asia/Tokyo)"))
        #expect(output.contains("+09:00 ("))
    }
}
