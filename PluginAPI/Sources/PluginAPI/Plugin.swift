import Foundation

/// Any plugin: its identity. Adopt ``ToolPlugin`` or ``ChannelPlugin``.
///
/// Instances are shared between concurrent calls, so they must be `Sendable`; keep mutable state in an actor
/// or behind a lock, or in the context's ``PluginContext/store``.
public protocol Plugin: Sendable {
    var metadata: PluginMetadata { get }
}

/// A plugin that gives the model functions to call.
///
/// ```swift
/// struct WordCountPlugin: ToolPlugin {
///     let metadata = PluginMetadata(name: "word_count", version: "1.0.0", kind: .tool)
///     let functions = [
///         ToolFunction(
///             name: "count_words",
///             description: "Counts the words of a text file in the workspace.",
///             parameters: #"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#)
///     ]
///
///     struct Arguments: Decodable { var path: String }
///
///     func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
///         let arguments = try call.decode(Arguments.self)
///         let text = String(decoding: try context.files.read(arguments.path), as: UTF8.self)
///         return "\(text.split(whereSeparator: \.isWhitespace).count) words"
///     }
/// }
/// ```
public protocol ToolPlugin: Plugin {
    /// The functions the model may call; names are unique across every registered tool.
    var functions: [ToolFunction] { get }

    /// Runs one call and returns text for the model.
    ///
    /// Called concurrently from any task. Throw ``ToolFailure`` for a failure the model should read and correct
    /// (bad arguments, nothing found); any other error is reported to the model by its description. The host
    /// enforces the entry's timeout by cancelling the task, so long loops should check `Task.isCancelled`.
    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String
}

/// One function of a tool plugin, as the model sees it.
public struct ToolFunction: Sendable, Equatable {
    /// `^[a-zA-Z0-9_-]{1,64}$`, the rule every provider applies to tool names.
    public var name: String
    public var description: String
    /// JSON Schema of the arguments object, as JSON text.
    public var parameters: String

    public init(name: String, description: String, parameters: String = #"{"type":"object","properties":{}}"#) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// One call of a ``ToolFunction``.
public struct ToolInvocation: Sendable {
    /// Which of the plugin's functions is called.
    public var function: String
    /// The arguments object as JSON text, exactly as the model wrote it.
    public var arguments: String
    /// The message whose turn made the call, for logs and traces.
    public var messageID: String
    public var sessionID: String
    /// The channel and sender of that message (`webchat`, `owner`, ...).
    public var channel: String
    public var sender: String

    public init(function: String, arguments: String, messageID: String = "", sessionID: String = "", channel: String = "", sender: String = "") {
        self.function = function
        self.arguments = arguments
        self.messageID = messageID
        self.sessionID = sessionID
        self.channel = channel
        self.sender = sender
    }

    /// The arguments decoded into `type`; a mismatch becomes a ``ToolFailure`` the model can act on.
    public func decode<Arguments: Decodable>(_ type: Arguments.Type) throws -> Arguments {
        do {
            return try JSONDecoder().decode(type, from: Data((arguments.isEmpty ? "{}" : arguments).utf8))
        } catch let DecodingError.keyNotFound(key, _) {
            throw ToolFailure("missing argument '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ToolFailure("argument '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ToolFailure("argument '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is null")
        } catch {
            throw ToolFailure("the arguments are not a valid JSON object")
        }
    }
}

/// A failure the model is told about, in its own words.
public struct ToolFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
