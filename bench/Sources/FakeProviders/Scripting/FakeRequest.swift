/// One HTTP request the fake provider received, as tests inspect it.
public struct FakeRequest: Sendable {
    /// Position in arrival order, starting at 1 (and restarting after ``FakeProvider/reset()``).
    public let sequence: Int
    /// The API the path belongs to; nil for a path no fake API serves.
    public let wire: FakeWireFormat?
    public let method: String
    /// The path without the query string, e.g. `/v1/chat/completions`.
    public let path: String
    public let query: String?
    /// Header values by lower-cased name; repeated headers are joined with ", ".
    public let headers: [String: String]
    /// The decoded body, or nil when it is empty or not JSON (see ``rawBody``).
    public let body: FakeJSON?
    public let rawBody: String
    public let receivedAt: ContinuousClock.Instant

    /// The value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        self.headers[name.lowercased()]
    }

    /// Whether this is a chat request (`POST /v1/chat/completions`, `/v1/messages`, `/api/chat`),
    /// as opposed to a model listing or a probe.
    public var isChat: Bool {
        if case .chat = FakeRoute(method: self.method, path: self.path, isAnthropic: false) { return true }
        return false
    }

    /// The `model` field of the body.
    public var model: String? { self.body?["model"]?.stringValue }

    /// Whether the client asked for a streamed answer, with each API's default
    /// (Ollama streams unless `"stream": false`; the others only with `"stream": true`).
    public var isStreaming: Bool {
        let flag = self.body?["stream"]?.boolValue
        return self.wire == .ollama ? flag ?? true : flag ?? false
    }

    /// The `messages` array of the body, or an empty array.
    public var messages: [FakeJSON] { self.body?["messages"]?.arrayValue ?? [] }
}
