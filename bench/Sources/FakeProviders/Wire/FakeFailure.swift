/// A reason to answer with an error, before each API words it in its own format.
enum FakeFailure: Error, Equatable {
    case missingCredential
    case invalidCredential
    /// A 400 with the API's own message, and OpenAI's `param` / `code` where it sets them.
    case invalidRequest(String, param: String? = nil, code: String? = nil)
    case unknownModel(String)
    /// A stream failure reported on a request that did not stream (Anthropic 529, others 500).
    case overloaded(message: String?)
    /// A scripted or injected status; nil message uses the API's usual wording.
    case status(Int, message: String?, retryAfter: Int?)
}

/// A complete, non-streamed HTTP answer.
struct FakeHTTPReply: Sendable {
    var status: Int
    var contentType: String
    var body: String
    var headers: [(name: String, value: String)] = []

    static let jsonContentType = "application/json"

    init(status: Int, contentType: String = Self.jsonContentType, body: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    init(status: Int, json: FakeJSON, retryAfter: Int? = nil, headers: [(name: String, value: String)] = []) {
        var headers = headers
        if let retryAfter {
            headers.append(("retry-after", String(retryAfter)))
        }
        self.init(status: status, body: json.jsonText, headers: headers)
    }
}
