/// A tool call a scripted reply asks the client to make.
///
/// The arguments are kept as the JSON text the model "wrote" because OpenAI sends them as a string,
/// which may be invalid JSON: scripting broken arguments tests how a client copes. Anthropic and
/// Ollama carry arguments as an object; there, text that is not a JSON object is sent as `{}`
/// (Anthropic's streamed `partial_json` fragments still carry the text as written).
public struct FakeToolCall: Sendable, Equatable {
    public var name: String
    public var argumentsJSON: String
    /// The call id; nil lets each wire format mint one in its own style (`call_…`, `toolu_…`).
    public var id: String?

    /// - Parameters:
    ///   - name: the tool (function) name.
    ///   - argumentsJSON: the arguments as JSON text, sent verbatim where the API carries text.
    ///   - id: a fixed call id, or nil for a generated one.
    public init(name: String, argumentsJSON: String = "{}", id: String? = nil) {
        self.name = name
        self.argumentsJSON = argumentsJSON
        self.id = id
    }

    /// - Parameters:
    ///   - name: the tool (function) name.
    ///   - arguments: the arguments; written as compact JSON text.
    ///   - id: a fixed call id, or nil for a generated one.
    public init(name: String, arguments: FakeJSON, id: String? = nil) {
        self.init(name: name, argumentsJSON: arguments.jsonText, id: id)
    }

    /// The arguments as an object, for the APIs that carry them as one.
    var argumentsObject: FakeJSON {
        guard let parsed = try? FakeJSON(parsing: self.argumentsJSON), case .object = parsed else { return [:] }
        return parsed
    }
}
