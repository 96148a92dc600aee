import ArgumentParser
import AsyncHTTPClient
import BenchSupport
import FakePlatforms
import Foundation
import NIOCore
import NIOHTTP1

/// `swiftlet-channel-load`: the channel path under an offered load. Telegram webhook updates are POSTed to a real
/// gateway at a fixed rate; each reply is timed when the fake Telegram receives its `sendMessage`.
///
/// ```
/// swiftlet-channel-load --provider http://127.0.0.1:4010 --messages 20000 --chats 1000 --rate 1000
/// ```
///
/// The driver starts the fake Telegram in process, writes a workspace (the Telegram plugin in webhook mode, the
/// fake provider as the only model, rate limits raised out of the way), starts `swiftlet gateway start` on it,
/// sends one unmeasured message per chat, then the measured ones. Exit status: 0 when every measured message was
/// answered, 1 otherwise (after the report), 64 on bad usage.
@main
struct SwiftletChannelLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet-channel-load",
        abstract: "Offer Telegram webhook updates to a gateway at a fixed rate; report reply latency and gateway overhead.",
        discussion: """
            Measured per message: webhook latency (POST sent → 200 from the gateway, i.e. journaled), end to end \
            (POST sent → the reply's sendMessage reaching the fake Telegram), the provider time the gateway \
            recorded for the reply (outbox meta provider_ms), and gateway overhead = end to end − provider time.
            """)

    @Option(help: ArgumentHelp("The gateway binary (default: swiftlet next to this one).", valueName: "path"))
    var swiftlet: String?

    @Option(help: ArgumentHelp("Base URL of the fake provider (swiftlet-fake-provider).", valueName: "url"))
    var provider: String

    @Option(help: ArgumentHelp("Measured messages.", valueName: "count"))
    var messages = 20_000

    @Option(help: ArgumentHelp("Private chats the messages come from, in turn.", valueName: "count"))
    var chats = 1_000

    @Option(help: ArgumentHelp("Offered messages per second.", valueName: "per-second"))
    var rate = 1_000.0

    @Option(help: ArgumentHelp("sessions.max_concurrency of the gateway.", valueName: "count"))
    var concurrency = 256

    @Option(help: ArgumentHelp("Seconds to wait for the last replies.", valueName: "seconds"))
    var timeout = 60.0

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard messages >= 1, chats >= 1 else { throw ValidationError("--messages and --chats must be at least 1") }
        guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be a positive number") }
        guard URL(string: provider)?.host != nil else { throw ValidationError("--provider must be a URL: \(provider)") }
        guard FileManager.default.isExecutableFile(atPath: gatewayBinary) else { throw ValidationError("no gateway binary at \(gatewayBinary) (pass --swiftlet)") }
    }

    private var gatewayBinary: String {
        swiftlet ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlet").path
    }

    func run() async throws {
        raiseOpenFileLimit()
        let telegram = FakeTelegram()
        let clock = ContinuousClock()
        let origin = clock.now
        let timings = MessageTimings(count: chats + messages, chats: chats)
        telegram.observeSends(keep: false) { sent in
            guard sent.method == "sendMessage" else { return }
            timings.replied(to: sent.chatID, at: (clock.now - origin).milliseconds)
        }
        let report = try await FakePlatformServer.withServer(telegram.router) { server in
            let bench = try BenchWorkspace(provider: provider, telegram: telegram, telegramURL: server.baseURL, telegramPort: server.port, concurrency: concurrency)
            defer { bench.remove() }
            let gateway = try GatewayProcess.start(binary: gatewayBinary, workspace: bench.root)
            defer { gateway.stop() }
            try await gateway.waitUntilReady { !telegram.webhook.url.isEmpty }
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)))
            do {
                let report = try await measure(gateway: gateway, client: client, telegram: telegram, bench: bench, timings: timings, clock: clock, origin: origin)
                try await client.shutdown()
                return report
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        print(json ? try report.json() : report.table())
        guard report.allAnswered else { throw ExitCode.failure }
    }

    private func measure(
        gateway: GatewayProcess, client: HTTPClient, telegram: FakeTelegram, bench: BenchWorkspace, timings: MessageTimings, clock: ContinuousClock,
        origin: ContinuousClock.Instant
    ) async throws -> ChannelLoadReport {
        let sender = WebhookSender(client: client, url: gateway.baseURL + "/channels/telegram/webhook", secret: BenchWorkspace.webhookSecret, telegram: telegram)
        FileHandle.standardError.write(Data("swiftlet-channel-load: warming up \(chats) chats, then \(messages) messages at \(Int(rate))/s\n".utf8))
        // One unmeasured message per chat opens its session.
        try await sender.offer(0..<chats, chats: chats, rate: rate, timings: timings, clock: clock, origin: origin)
        try await timings.waitForReplies(0..<chats, timeout: .seconds(timeout))
        let cpuBefore = gateway.cpuSeconds
        let sampler = RSSSampler(pid: gateway.pid)
        let sampling = Task { await sampler.run() }
        let started = clock.now
        try await sender.offer(chats..<(chats + messages), chats: chats, rate: rate, timings: timings, clock: clock, origin: origin)
        let offeredFor = (clock.now - started).seconds
        try? await timings.waitForReplies(chats..<(chats + messages), timeout: .seconds(timeout))
        let elapsed = (clock.now - started).seconds
        sampling.cancel()
        _ = await sampling.value
        let providerTimes = try bench.providerTimes()
        return ChannelLoadReport(
            measured: timings.snapshot(chats..<(chats + messages)), firstIndex: chats, providerMs: providerTimes, offeredRate: rate, sendSeconds: offeredFor, elapsedSeconds: elapsed,
            gatewayCPUSeconds: gateway.cpuSeconds - cpuBefore, peakRSSKiB: sampler.peakKiB, highWaterRSSKiB: ProcessMemory.read(pid: gateway.pid)?.highWaterKiB)
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15 }
    var seconds: Double { milliseconds / 1_000 }
}

/// POSTs Telegram updates to the gateway's webhook route, paced to an offered rate.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let url: String
    let secret: String
    let telegram: FakeTelegram

    /// Sends message `index` for each index at `origin + i / rate`, each on its own task (open loop: a slow answer
    /// does not hold back the next message). Chats take turns: index % chats.
    func offer(_ indices: Range<Int>, chats: Int, rate: Double, timings: MessageTimings, clock: ContinuousClock, origin: ContinuousClock.Instant) async throws {
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (offset, index) in indices.enumerated() {
                let due = start + .seconds(Double(offset) / rate)
                if due > clock.now { try await clock.sleep(until: due) }
                let chat = timings.chatID(of: index)
                let body = telegram.queueMessage(chatID: chat, from: chat, text: MessageTimings.text(for: index), messageID: index + 1, queue: false)
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "X-Telegram-Bot-Api-Secret-Token", value: secret)
                    request.body = .bytes(ByteBuffer(bytes: body))
                    let sent = (clock.now - origin).milliseconds
                    do {
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        timings.posted(index, at: sent, answered: (clock.now - origin).milliseconds, status: Int(response.status.code))
                    } catch {
                        timings.posted(index, at: sent, answered: nil, status: 0)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
