import Foundation
import PluginAPI

/// A tool plugin for the loader and permission tests: each function exercises one part of the context.
struct FixtureToolPlugin: ToolPlugin {
    let metadata = PluginMetadata(name: "fixture_tools", version: "0.0.1", kind: .tool)

    let functions = [
        ToolFunction(name: "fixture_echo", description: "Returns its text argument.", parameters: #"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#),
        ToolFunction(name: "fixture_read", description: "Reads a file through the context.", parameters: #"{"type":"object","properties":{"path":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_write", description: "Writes a file through the context.", parameters: #"{"type":"object","properties":{"path":{"type":"string"},"text":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_fetch", description: "GETs a URL through the context.", parameters: #"{"type":"object","properties":{"url":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_env", description: "Reads an environment variable.", parameters: #"{"type":"object","properties":{"name":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_secret", description: "Reads a secret.", parameters: #"{"type":"object","properties":{"name":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_count", description: "Counts calls in the key-value store.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_noop", description: "Does nothing: the benchmark of the call path.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_hang", description: "Never returns and ignores cancellation.", parameters: #"{"type":"object","properties":{}}"#),
    ]

    struct Arguments: Decodable {
        var text: String?
        var path: String?
        var url: String?
        var name: String?
    }

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        if call.function == "fixture_noop" { return "ok" }
        let arguments = try call.decode(Arguments.self)
        switch call.function {
        case "fixture_echo":
            guard let text = arguments.text else { throw ToolFailure("missing argument 'text'") }
            return "echo: \(text)"
        case "fixture_read":
            return String(decoding: try context.files.read(arguments.path ?? ""), as: UTF8.self)
        case "fixture_write":
            try context.files.write(arguments.path ?? "", Data((arguments.text ?? "").utf8))
            return "written"
        case "fixture_fetch":
            let response = try await context.http.send(PluginHTTPRequest(url: arguments.url ?? ""))
            return "\(response.status): \(String(decoding: response.body, as: UTF8.self))"
        case "fixture_env":
            return try context.environment(arguments.name ?? "") ?? "(unset)"
        case "fixture_secret":
            return "secret has \(try context.secret(arguments.name ?? "").count) characters"
        case "fixture_count":
            let count = (Int(try await context.store.get("count") ?? "0") ?? 0) + 1
            try await context.store.set("count", String(count))
            return "\(count)"
        case "fixture_hang":
            // Waits 3 s whatever happens, deaf to cancellation as a broken plugin would be, without holding a thread.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + 3) { continuation.resume() }
            }
            return "woke up"
        default:
            throw ToolFailure("unknown function \(call.function)")
        }
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(FixtureToolPlugin()) }
