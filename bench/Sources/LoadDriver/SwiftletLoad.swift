import BenchSupport
import ArgumentParser
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging

/// `swiftlet-load`: drives web chat sessions against a running gateway and reports latency, gateway overhead
/// and the gateway's memory.
///
/// ```
/// swiftlet-load --url http://127.0.0.1:18789 --token T --sessions 100 --messages 1000 --warmup 1 --gateway-pid 4242
/// ```
///
/// Exit status: 0 when every measured message was answered with `chat.message`, 1 otherwise (after the report)
/// or when sessions fail to connect, 64 on bad usage.
@main
struct SwiftletLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet-load",
        abstract: "Drive web chat sessions against a running gateway; report latency, gateway overhead and memory.",
        discussion: """
            Each session is one WebSocket sending its share of the messages in order, each after the previous \
            reply; all sessions run at once. Without --rate every session sends as fast as its replies come \
            (closed loop: the figure is the most the gateway sustains, and latency includes queueing). With \
            --rate the sessions share that offered rate, staggered evenly (open loop: latency at that load).
            """)

    @Option(help: ArgumentHelp("Gateway base URL (http, https, ws or wss).", valueName: "url"))
    var url = "http://127.0.0.1:18789"

    @Option(help: ArgumentHelp("Control token (default: $SWIFTLET_TOKEN).", valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp("Concurrent sessions, one WebSocket each.", valueName: "count"))
    var sessions: Int

    @Option(help: ArgumentHelp("Measured messages in total, shared out across the sessions.", valueName: "count"))
    var messages: Int

    @Option(help: ArgumentHelp("Offered load in messages per second over all sessions (default: as fast as replies come).", valueName: "per-second"))
    var rate: Double?

    @Option(help: ArgumentHelp("Unmeasured messages each session sends before the measured phase.", valueName: "count"))
    var warmup = 0

    @Option(name: .customLong("gateway-pid"), help: ArgumentHelp("Gateway process whose VmRSS to sample every 100 ms.", valueName: "pid"))
    var gatewayPID: Int32?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Session names are PREFIX-0 … PREFIX-(sessions-1).", valueName: "prefix"))
    var sessionPrefix = "bench"

    @Option(help: ArgumentHelp("Seconds to wait for a connection or for a reply before giving up on it.", valueName: "seconds"))
    var timeout = 60.0

    @Option(help: ArgumentHelp("Connections being opened at once.", valueName: "count"))
    var connectParallelism = 50

    func validate() throws {
        guard GatewayEndpoint(baseURL: url) != nil else { throw ValidationError("--url must be an http, https, ws or wss URL with a host: \(url)") }
        guard resolvedToken?.isEmpty == false else { throw ValidationError("pass --token or set SWIFTLET_TOKEN") }
        guard sessions >= 1 else { throw ValidationError("--sessions must be at least 1") }
        guard messages >= 1 else { throw ValidationError("--messages must be at least 1") }
        if let rate { guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be a positive number") } }
        guard warmup >= 0 else { throw ValidationError("--warmup cannot be negative") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard connectParallelism >= 1 else { throw ValidationError("--connect-parallelism must be at least 1") }
        guard GatewayEndpoint.isValidSessionName(sessionName(sessions - 1)) else {
            throw ValidationError("--session-prefix must be letters, digits, '-' or '_', short enough that '\(sessionName(sessions - 1))' fits in 64")
        }
        if let gatewayPID, ProcessMemory.read(pid: gatewayPID)?.residentKiB == nil {
            throw ValidationError("cannot read VmRSS from /proc/\(gatewayPID)/status")
        }
    }

    func run() async throws {
        raiseOpenFileLimit()
        var logger = Logger(label: "swiftlet-load")
        logger.logLevel = .warning
        let frameLimit = 1 << 20
        let coordinator = LoadCoordinator(
            plans: plans(),
            endpoint: GatewayEndpoint(baseURL: url)!,
            configuration: WebSocketClientConfiguration(
                maxFrameSize: frameLimit, additionalHeaders: [.authorization: "Bearer \(resolvedToken ?? "")"]),
            replyTimeout: .milliseconds(Int64(timeout * 1_000)),
            connectParallelism: connectParallelism,
            logger: logger)
        let sampler = gatewayPID.map(RSSSampler.init(pid:))

        let result: LoadResult
        do {
            result = try await withThrowingTaskGroup(of: Void.self) { group in
                if let sampler { group.addTask { await sampler.run() } }
                let result = try await coordinator.run()
                group.cancelAll()
                return result
            }
        } catch let failures as ConnectionFailures {
            printError(failures.description)
            throw ExitCode.failure
        }

        let report = LoadReport(
            result: result, offeredRate: rate, warmupPerSession: warmup, peakRSSKiB: sampler?.peakKiB,
            highWaterRSSKiB: gatewayPID.flatMap { ProcessMemory.read(pid: $0)?.highWaterKiB })
        print(json ? try report.json() : report.table())
        guard report.allAnswered else { throw ExitCode.failure }
    }

    private var resolvedToken: String? {
        token ?? ProcessInfo.processInfo.environment["SWIFTLET_TOKEN"]
    }

    private func sessionName(_ index: Int) -> String {
        "\(sessionPrefix)-\(index)"
    }

    /// Session i gets ⌊messages / sessions⌋ messages, plus one for each of the first `messages % sessions`.
    private func plans() -> [SessionPlan] {
        (0..<sessions).map { index in
            let share = messages / sessions + (index < messages % sessions ? 1 : 0)
            return SessionPlan(
                name: sessionName(index), warmupMessages: warmup, measuredMessages: share,
                pace: rate.map { Pace(index: index, sessions: sessions, rate: $0) })
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
}
