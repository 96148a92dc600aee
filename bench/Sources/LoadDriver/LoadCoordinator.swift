import HummingbirdWSClient
import Logging

/// Sessions that could not connect or warm up; the run is called off before the measured phase.
struct ConnectionFailures: Error, CustomStringConvertible {
    var failures: [SessionFailure]
    var attempted: Int

    var description: String {
        let shown = failures.prefix(5).map { "  \($0.session): \($0.reason)" }
        let more = failures.count > shown.count ? ["  … and \(failures.count - shown.count) more"] : []
        let hint = failures.contains { !$0.connected } ? ["(check --url, that the gateway runs, and --token)"] : []
        return (["\(failures.count) of \(attempted) sessions failed before the measured phase:"] + shown + more + hint).joined(separator: "\n")
    }
}

/// The measured phase, as the sessions saw it.
struct LoadResult: Sendable {
    var sessions: [SessionResult]
    var wall: Duration
}

/// Opens every session's connection, a bounded number at a time, lets each warm up, then starts all measured
/// lanes at once and collects them.
struct LoadCoordinator: Sendable {
    let plans: [SessionPlan]
    let endpoint: GatewayEndpoint
    let configuration: WebSocketClientConfiguration
    let replyTimeout: Duration
    let connectParallelism: Int
    let logger: Logger

    func run() async throws -> LoadResult {
        let startGate = StartGate()
        let (progress, continuation) = AsyncStream.makeStream(of: SessionProgress.self)
        defer { continuation.finish() }
        return try await withThrowingTaskGroup(of: SessionResult.self) { group in
            var events = progress.makeAsyncIterator()
            var launched = 0
            var connecting = 0
            var settled = 0
            var failures: [SessionFailure] = []
            // Launch while under the limit; otherwise wait for a session to connect, become ready or fail.
            while settled < launched || (launched < plans.count && failures.isEmpty) {
                if launched < plans.count, failures.isEmpty, connecting < connectParallelism {
                    let driver = driver(for: plans[launched], startGate: startGate, progress: continuation)
                    group.addTask { await driver.run() }
                    launched += 1
                    connecting += 1
                    continue
                }
                guard let event = await events.next() else { break }
                switch event {
                case .connected:
                    connecting -= 1
                case .ready:
                    settled += 1
                case .failed(let failure):
                    settled += 1
                    if !failure.connected { connecting -= 1 }
                    failures.append(failure)
                }
            }
            guard failures.isEmpty else {
                startGate.open(proceed: false)
                throw ConnectionFailures(failures: failures, attempted: launched)
            }

            let start = ContinuousClock.now
            startGate.open(proceed: true)
            var sessions: [SessionResult] = []
            for try await session in group { sessions.append(session) }
            let end = sessions.compactMap(\.settledAt).max() ?? .now
            return LoadResult(sessions: sessions, wall: start.duration(to: max(end, start)))
        }
    }

    private func driver(for plan: SessionPlan, startGate: StartGate, progress: AsyncStream<SessionProgress>.Continuation) -> SessionDriver {
        SessionDriver(
            plan: plan, url: endpoint.url(session: plan.name), configuration: configuration, replyTimeout: replyTimeout,
            startGate: startGate, progress: progress, logger: logger)
    }
}
