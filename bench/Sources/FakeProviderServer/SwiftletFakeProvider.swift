import ArgumentParser
import FakeProviders
import Foundation
import Logging

/// `swiftlet-fake-provider`: the fake LLM provider as a process, for benchmarks and scripts.
///
/// Prints `listening on http://HOST:PORT` as its first line of standard output once bound, then
/// serves the OpenAI, Anthropic and Ollama wire formats until SIGINT or SIGTERM. Logs go to
/// standard error, warnings and worse by default, so nothing is logged per request.
@main
struct SwiftletFakeProvider: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet-fake-provider",
        abstract: "Serve fake OpenAI, Anthropic and Ollama chat APIs that echo the last user message."
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free one.")
    var port = 0

    @Option(help: "Wait before each chat answer, e.g. 0ms, 50ms, 1.5s.")
    var latency = DurationArgument(argument: "0ms")!

    @Option(name: .customLong("chunk-interval"), help: "Wait between the frames of a stream.")
    var chunkInterval = DurationArgument(argument: "0ms")!

    @Option(help: "Text chunks per streamed answer.")
    var tokens = 20

    @Option(name: .customLong("fail-rate"), help: "Fraction (0...1) of chat requests answered with a 500.")
    var failRate = 0.0

    @Option(name: .customLong("api-key"), help: "Key clients must present; any key is accepted when omitted.")
    var apiKey: String?

    @Option(name: .customLong("model"), help: "A known model (repeatable); any model is accepted when omitted.")
    var models: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "warning"

    @Flag(help: "Keep every request in memory (off by default so long runs stay flat).")
    var record = false

    func validate() throws {
        guard self.tokens >= 1 else { throw ValidationError("--tokens must be at least 1") }
        guard (0...1).contains(self.failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard Logger.Level(rawValue: self.logLevel) != nil else { throw ValidationError("unknown --log-level \(self.logLevel)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "swiftlet.fake-provider")
        logger.logLevel = Logger.Level(rawValue: self.logLevel) ?? .warning

        let provider = FakeProvider(
            configuration: .init(
                apiKey: self.apiKey,
                models: self.models.isEmpty ? nil : self.models,
                streamChunks: self.tokens,
                latency: self.latency.duration,
                chunkInterval: self.chunkInterval.duration,
                failRate: self.failRate,
                recordsRequests: self.record
            )
        )
        try await FakeProviderServer.run(provider, host: self.host, port: self.port, logger: logger) { server in
            // Written straight to the file descriptor, not through stdio's buffer, so a parent
            // reading the pipe sees the line at once.
            FileHandle.standardOutput.write(Data("listening on \(server.baseURL)\n".utf8))
        }
    }
}
