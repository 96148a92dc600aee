import Hummingbird
import NIOCore

/// Answers every request the fake server receives: records it, then routes it by path.
///
/// A single responder with a switch, rather than a `Router`, because the fake must also record
/// requests to paths it does not serve, and the benchmark wants the shortest path per request.
struct FakeProviderResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    /// Larger than any real chat request; only guards the fake against runaway clients.
    static let maximumBodySize = 64 << 20

    let provider: FakeProvider

    func respond(to request: Request, context: Context) async throws -> Response {
        let arrival = ContinuousClock.now
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBodySize)
        } catch {
            return Response(status: .contentTooLarge)
        }
        let route = FakeRoute(
            method: request.method.rawValue,
            path: request.uri.path,
            isAnthropic: request.headers.contains { $0.name.canonicalName == "anthropic-version" }
        )
        let (record, configuration) = self.provider.receive { sequence in
            Self.record(of: request, body: body, wire: route.wire, sequence: sequence, arrival: arrival)
        }
        func exchange<Wire: FakeWire>(_ wire: Wire) -> FakeChatExchange<Wire> {
            FakeChatExchange(wire: wire, provider: self.provider, request: request, record: record, configuration: configuration, arrival: arrival)
        }
        switch route {
        case .chat(.openAI):
            return try await exchange(OpenAIWire()).respond()
        case .chat(.anthropic):
            return try await exchange(AnthropicWire()).respond()
        case .chat(.ollama):
            return try await exchange(OllamaWire()).respond()
        case .models(let wire):
            return Self.modelList(wire, configuration: configuration, arrival: arrival)
        case .ollamaVersion:
            return FakeHTTPReply(status: 200, json: ["version": "0.6.8"]).response
        case .ollamaRoot:
            return FakeHTTPReply(status: 200, contentType: "text/plain; charset=utf-8", body: "Ollama is running").response
        case .unknown:
            return FakeHTTPReply(status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found").response
        }
    }

    /// The models an API lists: the configured ones, or a single placeholder when any is accepted.
    private static func modelList(
        _ format: FakeWireFormat,
        configuration: FakeProvider.Configuration,
        arrival: ContinuousClock.Instant
    ) -> Response {
        let models = configuration.models ?? ["fake-model"]
        let stamp = FakeStamp.now(since: arrival)
        let json: FakeJSON =
            switch format {
            case .openAI: OpenAIWire().modelList(models, stamp: stamp)
            case .anthropic: AnthropicWire().modelList(models, stamp: stamp)
            case .ollama: OllamaWire().modelList(models, stamp: stamp)
            }
        return FakeHTTPReply(status: 200, json: json).response
    }

    private static func record(
        of request: Request,
        body: ByteBuffer,
        wire: FakeWireFormat?,
        sequence: Int,
        arrival: ContinuousClock.Instant
    ) -> FakeRequest {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        return FakeRequest(
            sequence: sequence,
            wire: wire,
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query,
            headers: headers,
            body: body.readableBytes == 0 ? nil : try? FakeJSON(parsing: body.readableBytesView),
            rawBody: String(buffer: body),
            receivedAt: arrival
        )
    }
}
