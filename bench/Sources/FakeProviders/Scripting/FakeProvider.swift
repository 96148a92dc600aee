import Synchronization

/// The scriptable state behind a fake provider server: configuration, queued replies and the
/// record of received requests.
///
/// A test configures it, starts a ``FakeProviderServer`` on it, points the client under test at the
/// server, then asserts on ``requests``. It is a class with a lock rather than an actor so tests can
/// script and inspect it synchronously.
///
/// Each chat request takes the first queued reply whose filters match (FIFO); with none queued the
/// answer is `"echo: <last user text>"`, where the last user text is the text of the last message
/// from the user side (a user message, or a tool result). Token usage is counted in words
/// (whitespace-separated runs): prompt tokens are the words of the system prompt and every
/// message, completion tokens the words of the answer text plus one per tool call.
///
/// ```swift
/// let provider = FakeProvider(configuration: .init(apiKey: "sk-test"))
/// provider.enqueue(.error(status: 429, retryAfter: 1), .text("hello"), wire: .openAI)
/// // … run the client …
/// #expect(provider.requestCount == 2)
/// ```
public final class FakeProvider: Sendable {
    private struct ScriptedReply {
        let reply: FakeReply
        let wire: FakeWireFormat?
        let model: String?
    }

    private struct State {
        var configuration: Configuration
        var replies: [ScriptedReply] = []
        var requests: [FakeRequest] = []
        var requestCount = 0
    }

    private let state: Mutex<State>

    /// - Parameter configuration: the behaviour when no scripted reply applies.
    public init(configuration: Configuration = Configuration()) {
        self.state = Mutex(State(configuration: configuration))
    }

    /// The current configuration; changes apply to requests that arrive afterwards.
    public var configuration: Configuration {
        get { self.state.withLock { $0.configuration } }
        set { self.state.withLock { $0.configuration = newValue } }
    }

    /// Queues replies for coming chat requests, in order.
    ///
    /// - Parameters:
    ///   - replies: the replies, consumed one per matching request.
    ///   - wire: only requests in this API take them; nil for any.
    ///   - model: only requests for this model take them; nil for any.
    public func enqueue(_ replies: FakeReply..., wire: FakeWireFormat? = nil, model: String? = nil) {
        self.enqueue(contentsOf: replies, wire: wire, model: model)
    }

    /// Queues replies for coming chat requests, in order.
    public func enqueue(contentsOf replies: some Sequence<FakeReply>, wire: FakeWireFormat? = nil, model: String? = nil) {
        let scripted = replies.map { ScriptedReply(reply: $0, wire: wire, model: model) }
        self.state.withLock { $0.replies.append(contentsOf: scripted) }
    }

    /// Scripted replies not yet consumed.
    public var pendingReplyCount: Int {
        self.state.withLock { $0.replies.count }
    }

    /// Every request received, in arrival order (empty when recording is off).
    public var requests: [FakeRequest] {
        self.state.withLock { $0.requests }
    }

    /// The requests received in one API.
    public func requests(for wire: FakeWireFormat) -> [FakeRequest] {
        self.state.withLock { $0.requests.filter { $0.wire == wire } }
    }

    /// The most recent request, if recorded.
    public var lastRequest: FakeRequest? {
        self.state.withLock { $0.requests.last }
    }

    /// How many requests arrived, of any kind, recorded or not.
    public var requestCount: Int {
        self.state.withLock { $0.requestCount }
    }

    /// Drops queued replies and recorded requests and restarts the count; keeps the configuration.
    public func reset() {
        self.state.withLock { state in
            state.replies.removeAll()
            state.requests.removeAll()
            state.requestCount = 0
        }
    }

    /// Counts (and, if configured, records) an arriving request.
    ///
    /// - Parameter makeRequest: builds the record from its sequence number.
    /// - Returns: the record, with the configuration that applies to the request.
    func receive(_ makeRequest: (Int) -> FakeRequest) -> (request: FakeRequest, configuration: Configuration) {
        self.state.withLock { state in
            state.requestCount += 1
            let request = makeRequest(state.requestCount)
            if state.configuration.recordsRequests {
                state.requests.append(request)
            }
            return (request, state.configuration)
        }
    }

    /// Takes the first queued reply that applies to a chat request, if any.
    func takeReply(wire: FakeWireFormat, model: String) -> FakeReply? {
        self.state.withLock { state in
            let index = state.replies.firstIndex { scripted in
                (scripted.wire == nil || scripted.wire == wire) && (scripted.model == nil || scripted.model == model)
            }
            return index.map { state.replies.remove(at: $0).reply }
        }
    }
}
