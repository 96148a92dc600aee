extension FakeProvider {
    /// How a ``FakeProvider`` behaves when no scripted reply says otherwise.
    public struct Configuration: Sendable, Equatable {
        /// The key clients must send (`Authorization: Bearer`, or Anthropic's `x-api-key`);
        /// nil accepts any key and none.
        public var apiKey: String?
        /// The models that exist; a request for another gets the API's 404. Nil accepts any model.
        /// Ollama names match with or without the `:latest` tag.
        public var models: [String]?
        /// How many chunks a streamed text (and each tool call's arguments) is split into,
        /// at most one per character.
        public var streamChunks: Int
        /// Wait before answering a chat request (time to first byte).
        public var latency: Duration
        /// Wait between the frames of a stream.
        public var chunkInterval: Duration
        /// Fraction (0...1) of chat requests without a scripted reply that get a 500.
        public var failRate: Double
        /// Whether requests are kept for ``FakeProvider/requests``; the count is kept regardless.
        /// Turn off for long benchmark runs so memory stays flat.
        public var recordsRequests: Bool

        /// - Parameters:
        ///   - apiKey: the required key, or nil to accept any.
        ///   - models: the known models, or nil to accept any.
        ///   - streamChunks: chunks per streamed text.
        ///   - latency: wait before each chat answer.
        ///   - chunkInterval: wait between stream frames.
        ///   - failRate: fraction of unscripted chat requests answered 500.
        ///   - recordsRequests: whether to keep every request for inspection.
        public init(
            apiKey: String? = nil,
            models: [String]? = nil,
            streamChunks: Int = 20,
            latency: Duration = .zero,
            chunkInterval: Duration = .zero,
            failRate: Double = 0,
            recordsRequests: Bool = true
        ) {
            self.apiKey = apiKey
            self.models = models
            self.streamChunks = streamChunks
            self.latency = latency
            self.chunkInterval = chunkInterval
            self.failRate = failRate
            self.recordsRequests = recordsRequests
        }
    }
}
