import Foundation
import PluginAPI

/// The parameters and results of ``PluginWire`` methods, each written and read in one place.
extension PluginWire {
    /// `initialize`: everything the plugin host needs, so nothing reaches it through its command line or
    /// environment (both visible to other processes of the host). Only what the whitelist grants is sent.
    struct Initialize: Sendable, Equatable {
        /// The staged copy of the plugin, mounted read-only at the same path.
        var plugin: String
        var name: String
        var configuration: String
        var workspace: String
        /// Resolved absolute roots, mounted at the same paths.
        var readableRoots: [String]
        var writableRoots: [String]
        /// Every whitelisted variable, nil when it is not set.
        var environment: [String: String?]
        /// Every whitelisted secret, nil when it is not set.
        var secrets: [String: String?]
        var memoryMB: Int
        var exec: Bool

        var json: JSONValue {
            .object([
                "plugin": .string(plugin), "name": .string(name), "configuration": .string(configuration), "workspace": .string(workspace),
                "read": .array(readableRoots.map(JSONValue.string)), "write": .array(writableRoots.map(JSONValue.string)),
                "environment": .object(environment.mapValues { $0.map(JSONValue.string) ?? .null }),
                "secrets": .object(secrets.mapValues { $0.map(JSONValue.string) ?? .null }),
                "memory_mb": .number(Double(memoryMB)), "exec": .bool(exec),
            ])
        }

        init(
            plugin: String, name: String, configuration: String, workspace: String, readableRoots: [String], writableRoots: [String],
            environment: [String: String?], secrets: [String: String?], memoryMB: Int, exec: Bool
        ) {
            self.plugin = plugin
            self.name = name
            self.configuration = configuration
            self.workspace = workspace
            self.readableRoots = readableRoots
            self.writableRoots = writableRoots
            self.environment = environment
            self.secrets = secrets
            self.memoryMB = memoryMB
            self.exec = exec
        }

        init(_ json: JSONValue) throws(ProtocolError) {
            guard let plugin = json["plugin"]?.stringValue, let name = json["name"]?.stringValue, let workspace = json["workspace"]?.stringValue
            else { throw ProtocolError("initialize needs plugin, name and workspace") }
            self.plugin = plugin
            self.name = name
            self.workspace = workspace
            configuration = json["configuration"]?.stringValue ?? "{}"
            readableRoots = Self.strings(json["read"])
            writableRoots = Self.strings(json["write"])
            environment = Self.optionalStrings(json["environment"])
            secrets = Self.optionalStrings(json["secrets"])
            memoryMB = json["memory_mb"]?.intValue ?? 512
            exec = json["exec"] == .bool(true)
        }

        private static func strings(_ value: JSONValue?) -> [String] {
            guard case .array(let items)? = value else { return [] }
            return items.compactMap(\.stringValue)
        }

        private static func optionalStrings(_ value: JSONValue?) -> [String: String?] {
            guard case .object(let members)? = value else { return [:] }
            return members.mapValues { $0.stringValue }
        }
    }

    /// The result of `initialize`: who the plugin says it is.
    struct Handshake: Sendable, Equatable {
        var metadata: PluginMetadata
        var functions: [ToolFunction]

        var json: JSONValue {
            .object([
                "name": .string(metadata.name), "version": .string(metadata.version), "kind": .string(metadata.kind.rawValue),
                "abi_version": .number(Double(metadata.abiVersion)),
                "functions": .array(
                    functions.map { .object(["name": .string($0.name), "description": .string($0.description), "parameters": .string($0.parameters)]) }),
            ])
        }

        init(metadata: PluginMetadata, functions: [ToolFunction]) {
            self.metadata = metadata
            self.functions = functions
        }

        init(_ json: JSONValue) throws(ProtocolError) {
            guard let name = json["name"]?.stringValue, let version = json["version"]?.stringValue,
                let kind = json["kind"]?.stringValue.flatMap(PluginKind.init(rawValue:)), let abi = json["abi_version"]?.intValue,
                case .array(let functions)? = json["functions"]
            else { throw ProtocolError("the initialize result lacks name, version, kind, abi_version or functions") }
            metadata = PluginMetadata(name: name, version: version, kind: kind, abiVersion: Int32(abi))
            self.functions = try functions.map { (item: JSONValue) throws(ProtocolError) -> ToolFunction in
                guard let name = item["name"]?.stringValue else { throw ProtocolError("a function without a name") }
                return ToolFunction(
                    name: name, description: item["description"]?.stringValue ?? "",
                    parameters: item["parameters"]?.stringValue ?? #"{"type":"object","properties":{}}"#)
            }
        }
    }

    static func json(_ invocation: ToolInvocation) -> JSONValue {
        .object([
            "function": .string(invocation.function), "arguments": .string(invocation.arguments), "message_id": .string(invocation.messageID),
            "session_id": .string(invocation.sessionID), "channel": .string(invocation.channel), "sender": .string(invocation.sender),
        ])
    }

    static func invocation(_ json: JSONValue) throws(ProtocolError) -> ToolInvocation {
        guard let function = json["function"]?.stringValue else { throw ProtocolError("invoke needs a function") }
        return ToolInvocation(
            function: function, arguments: json["arguments"]?.stringValue ?? "{}", messageID: json["message_id"]?.stringValue ?? "",
            sessionID: json["session_id"]?.stringValue ?? "", channel: json["channel"]?.stringValue ?? "", sender: json["sender"]?.stringValue ?? "")
    }

    static func json(_ request: PluginHTTPRequest) -> JSONValue {
        var members: [String: JSONValue] = [
            "method": .string(request.method), "url": .string(request.url), "headers": headers(request.headers),
            "timeout_seconds": .number(request.timeoutSeconds.isFinite ? request.timeoutSeconds : 0),
            "max_response_bytes": .number(Double(request.maxResponseBytes)),
        ]
        if let body = request.body { members["body"] = .string(body.base64EncodedString()) }
        return .object(members)
    }

    static func httpRequest(_ json: JSONValue) throws(ProtocolError) -> PluginHTTPRequest {
        guard let url = json["url"]?.stringValue else { throw ProtocolError("http.send needs a url") }
        var body: Data?
        if let text = json["body"]?.stringValue {
            guard let decoded = Data(base64Encoded: text) else { throw ProtocolError("http.send body is not base64") }
            body = decoded
        }
        return PluginHTTPRequest(
            method: json["method"]?.stringValue ?? "GET", url: url, headers: headers(json["headers"]), body: body,
            timeoutSeconds: json["timeout_seconds"]?.numberValue ?? 30, maxResponseBytes: Self.responseLimit(json["max_response_bytes"]?.numberValue))
    }

    /// The body limit a child asks for, within what a frame can carry back (base64 grows it by a third): any
    /// number, however large or not finite, becomes a sane limit.
    static func responseLimit(_ asked: Double?) -> Int {
        let ceiling = PluginWire.maxFrameBytes / 2
        guard let asked, asked.isFinite, asked >= 0 else { return 4 << 20 }
        return asked >= Double(ceiling) ? ceiling : Int(asked)
    }

    static func json(_ response: PluginHTTPResponse) -> JSONValue {
        .object(["status": .number(Double(response.status)), "headers": headers(response.headers), "body": .string(response.body.base64EncodedString())])
    }

    static func httpResponse(_ json: JSONValue) throws(ProtocolError) -> PluginHTTPResponse {
        guard let status = json["status"]?.intValue, let body = json["body"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            throw ProtocolError("an http.send result without status or body")
        }
        return PluginHTTPResponse(status: status, headers: headers(json["headers"]), body: body)
    }

    private static func headers(_ headers: [(name: String, value: String)]) -> JSONValue {
        .array(headers.map { .array([.string($0.name), .string($0.value)]) })
    }

    private static func headers(_ json: JSONValue?) -> [(name: String, value: String)] {
        guard case .array(let pairs)? = json else { return [] }
        return pairs.compactMap { pair in
            guard case .array(let parts) = pair, parts.count == 2, let name = parts[0].stringValue, let value = parts[1].stringValue else { return nil }
            return (name, value)
        }
    }
}
