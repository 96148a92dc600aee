/// How one published API reads a chat request and writes answers and errors.
///
/// Implementations only build values — JSON bodies, stream frames, status codes — and never touch
/// the network or sleep; ``FakeReplyRenderer`` does the timing and I/O. That keeps each wire format
/// checkable on its own.
protocol FakeWire: Sendable {
    var format: FakeWireFormat { get }
    /// The `Content-Type` of a streamed answer.
    var streamContentType: String { get }

    /// The API key the client presented, nil when none.
    func credential(in request: FakeRequest) -> String?
    /// A failure for headers the API requires before it reads the body, if one is missing.
    func checkHeaders(of request: FakeRequest) -> FakeFailure?
    /// The API's reading of a chat request body, or the 400 it would answer.
    func chatRequest(from request: FakeRequest) -> Result<FakeChat, FakeFailure>
    /// Whether a requested model name names a known model.
    func modelMatches(requested: String, known: String) -> Bool
    /// An answer the API gives without generating, such as Ollama's model-load reply.
    func immediateReply(to chat: FakeChat, stamp: FakeStamp) -> FakeHTTPReply?

    /// An error status with the API's error body.
    func errorReply(_ failure: FakeFailure) -> FakeHTTPReply
    /// The non-streamed answer body.
    func completion(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> FakeJSON
    /// Every frame of the streamed answer, terminal frames included.
    func streamFrames(_ answer: FakeAnswer, chat: FakeChat, stamp: FakeStamp) -> [FakeFrame]
    /// The frame the API sends when a stream fails after it started.
    func streamErrorFrame(message: String?) -> FakeFrame
    /// A 200 body that is not valid JSON (or a stream with one broken frame).
    func malformedBody(chat: FakeChat, stamp: FakeStamp) -> String
    /// The list-models body.
    func modelList(_ models: [String], stamp: FakeStamp) -> FakeJSON
    /// Headers the API adds to every answer, such as a request id.
    func responseHeaders() -> [(name: String, value: String)]
}

extension FakeWire {
    func checkHeaders(of request: FakeRequest) -> FakeFailure? { nil }
    func modelMatches(requested: String, known: String) -> Bool { requested == known }
    func immediateReply(to chat: FakeChat, stamp: FakeStamp) -> FakeHTTPReply? { nil }
    func responseHeaders() -> [(name: String, value: String)] { [] }

    /// The token of an `Authorization: Bearer …` header.
    func bearerToken(in request: FakeRequest) -> String? {
        guard let value = request.header("authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingSpaces()
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
