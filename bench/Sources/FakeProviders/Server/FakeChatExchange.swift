import Hummingbird

/// One chat request through one API: checks, reply choice, and the answer.
///
/// Checks run in the order the real services apply them: credentials, required headers, the
/// body, then the model. Only a request that passes them all consumes a scripted reply.
struct FakeChatExchange<Wire: FakeWire>: Sendable {
    let wire: Wire
    let provider: FakeProvider
    /// The live request, kept to notice when a client gives up on a hanging answer.
    let request: Request
    let record: FakeRequest
    let configuration: FakeProvider.Configuration
    let arrival: ContinuousClock.Instant

    func respond() async throws -> Response {
        if let failure = self.credentialFailure() ?? self.wire.checkHeaders(of: self.record) {
            return self.wire.errorReply(failure).response
        }
        let chat: FakeChat
        switch self.wire.chatRequest(from: self.record) {
        case .success(let parsed): chat = parsed
        case .failure(let failure): return self.wire.errorReply(failure).response
        }
        if let models = self.configuration.models, !models.contains(where: { self.wire.modelMatches(requested: chat.model, known: $0) }) {
            return self.wire.errorReply(.unknownModel(chat.model)).response
        }
        if let reply = self.wire.immediateReply(to: chat, stamp: .now(since: self.arrival)) {
            return reply.response
        }
        let reply = self.provider.takeReply(wire: self.wire.format, model: chat.model) ?? self.unscriptedReply(for: chat)
        if self.configuration.latency > .zero {
            try await Task.sleep(for: self.configuration.latency)
        }
        return try await self.render(reply, for: chat)
    }

    private func credentialFailure() -> FakeFailure? {
        guard let expected = self.configuration.apiKey else { return nil }
        guard let presented = self.wire.credential(in: self.record) else { return .missingCredential }
        return presented == expected ? nil : .invalidCredential
    }

    private func unscriptedReply(for chat: FakeChat) -> FakeReply {
        if self.configuration.failRate > 0, Double.random(in: 0..<1) < self.configuration.failRate {
            return .error(status: 500)
        }
        return .text("echo: " + chat.lastUserText)
    }

    private func render(_ reply: FakeReply, for chat: FakeChat) async throws -> Response {
        let chunkCount = self.configuration.streamChunks
        switch reply {
        case .delay(let duration, let next):
            try await Task.sleep(for: duration)
            return try await self.render(next, for: chat)
        case .text(let text):
            return self.answer(FakeAnswer(text: text, toolCalls: [], chat: chat, chunkCount: chunkCount), for: chat)
        case .toolCalls(let calls, let text):
            return self.answer(FakeAnswer(text: text ?? "", toolCalls: calls, chat: chat, chunkCount: chunkCount), for: chat)
        case .error(let status, let retryAfter, let message):
            return self.wire.errorReply(.status(status, message: message, retryAfter: retryAfter)).response
        case .streamError(let chunks, let message):
            guard chat.isStreaming else { return self.wire.errorReply(.overloaded(message: message)).response }
            let errorFrame = self.wire.streamErrorFrame(message: message)
            return self.cutShort(.echo(chat, chunkCount: chunkCount), for: chat, after: chunks, then: .error(errorFrame))
        case .truncated(let chunks):
            return self.cutShort(.echo(chat, chunkCount: chunkCount), for: chat, after: chunks, then: .abort)
        case .hangAfterChunks(let chunks):
            return self.cutShort(.echo(chat, chunkCount: chunkCount), for: chat, after: chunks, then: .stall)
        case .hang:
            try await FakeStream.waitForDisconnect(of: self.request)
            throw CancellationError()
        case .malformed:
            let body = self.wire.malformedBody(chat: chat, stamp: .now(since: self.arrival))
            let contentType = chat.isStreaming ? self.wire.streamContentType : FakeHTTPReply.jsonContentType
            return FakeHTTPReply(status: 200, contentType: contentType, body: body, headers: self.wire.responseHeaders()).response
        }
    }

    private func answer(_ answer: FakeAnswer, for chat: FakeChat) -> Response {
        let stamp = FakeStamp.now(since: self.arrival)
        guard chat.isStreaming else {
            let body = self.wire.completion(answer, chat: chat, stamp: stamp)
            return FakeHTTPReply(status: 200, json: body, headers: self.wire.responseHeaders()).response
        }
        let frames = self.wire.streamFrames(answer, chat: chat, stamp: stamp)
        return self.stream(FakeStream(frames: frames, ending: .complete, interval: self.configuration.chunkInterval))
    }

    /// A stream of the first `chunks` chunks, or for a non-streaming request the first half of
    /// the body, followed by `ending`.
    private func cutShort(_ answer: FakeAnswer, for chat: FakeChat, after chunks: Int, then ending: FakeStream.Ending) -> Response {
        let stamp = FakeStamp.now(since: self.arrival)
        guard chat.isStreaming else {
            let body = self.wire.completion(answer, chat: chat, stamp: stamp).jsonText
            let half = FakeFrame(place: .chunk, text: String(body.prefix(body.count / 2)))
            return self.stream(FakeStream(frames: [half], ending: ending, interval: .zero), contentType: FakeHTTPReply.jsonContentType)
        }
        let frames = FakeFrame.prefix(of: self.wire.streamFrames(answer, chat: chat, stamp: stamp), chunks: chunks)
        return self.stream(FakeStream(frames: frames, ending: ending, interval: self.configuration.chunkInterval))
    }

    private func stream(_ stream: FakeStream, contentType: String? = nil) -> Response {
        let headers = FakeHTTPReply.fields(contentType: contentType ?? self.wire.streamContentType, self.wire.responseHeaders())
        return Response(status: .ok, headers: headers, body: stream.body(for: self.request))
    }
}
