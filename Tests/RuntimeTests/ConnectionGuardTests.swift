import Foundation
import Logging
import Synchronization
import Testing

@testable import Runtime

/// The pure decisions behind the server's connection guards.
@Suite struct ConnectionGuardDecisionTests {
    @Test func capIsLoweredToKeepFilesForTheGateway() {
        #expect(ConnectionLimiter.effectiveCap(configured: 4096, openFileLimit: 1_048_576) == 4096)
        #expect(ConnectionLimiter.effectiveCap(configured: 4096, openFileLimit: 1024) == 1024 - ConnectionLimiter.reservedFiles)
        #expect(ConnectionLimiter.effectiveCap(configured: 100, openFileLimit: 1024) == 100)
        #expect(ConnectionLimiter.effectiveCap(configured: 4096, openFileLimit: 300) == 150, "a limit too small for the reserve keeps half")
        #expect(ConnectionLimiter.effectiveCap(configured: 4096, openFileLimit: 1) == 1)
    }

    @Test func refusalWarningIsWrittenOncePerIntervalWithTheCount() {
        var throttle = ThrottledWarning(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(throttle.record(at: start) == 1)
        #expect(throttle.record(at: start + .seconds(1)) == nil)
        #expect(throttle.record(at: start + .milliseconds(9_999)) == nil)
        #expect(throttle.record(at: start + .seconds(10)) == 3, "the line stands for the two held back and this one")
        #expect(throttle.record(at: start + .seconds(11)) == nil)
        #expect(throttle.record(at: start + .seconds(12)) == nil)
        #expect(throttle.flush() == 2, "the end of the burst hands over what was held back")
        #expect(throttle.flush() == nil)
        #expect(throttle.record(at: start + .seconds(13)) == 1, "after a flush the next occurrence is written at once")
    }

    @Test func limiterAdmitsUpToTheCapAndAgainAfterARelease() {
        let limiter = ConnectionLimiter(cap: 2, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect(limiter.admit() && limiter.admit())
        #expect(!limiter.admit())
        limiter.release()
        #expect(limiter.admit())
        #expect(limiter.openConnections == 2)
    }

    @Test func softOpenFileLimitIsRaisedToTheHardOne() {
        #expect(OpenFileLimit.raisedSoftLimit(soft: 1024, hard: 524_288) == 524_288)
        #expect(OpenFileLimit.raisedSoftLimit(soft: 1024, hard: 1024) == nil)
        #expect(OpenFileLimit.raisedSoftLimit(soft: 256, hard: UInt64.max) == 65_536, "unlimited is not a valid soft limit on macOS")
        #expect(OpenFileLimit.raisedSoftLimit(soft: 100_000, hard: UInt64.max) == nil)
    }

    @Test func refusalIsAComplete503() throws {
        let text = ConnectionRefusalHandler.response(cap: 12)
        let (response, length) = try #require(RawHTTPResponse.parse(ArraySlice(Array(text.utf8))))
        #expect(length == text.utf8.count)
        #expect(response.status == 503)
        #expect(response.headers["connection"] == "close")
        #expect(response.body == "swiftlet: too many open connections (gateway.max_connections is 12); try again shortly\n")
    }

    @Test func zeroTimeoutsAreRefused() throws {
        let yaml = "gateway:\n  header_timeout: 0s\n  idle_timeout: 0ms\n"
        let resolved = try ConfigResolver().resolve(files: [.init(path: "config.yaml", text: yaml)], environment: [:])
        let issues = GatewayConfig.crossKeyIssues(resolved)
        #expect(issues.map(\.keyPath) == ["gateway.header_timeout", "gateway.idle_timeout"])
        #expect(issues.allSatisfy { $0.message.contains("longer than 0s") })
        let defaults = GatewayConfig(try ConfigResolver().resolve(files: [], environment: [:]))
        #expect(defaults.gateway.headerTimeout == .seconds(10) && defaults.gateway.idleTimeout == .seconds(60))
        #expect(defaults.gateway.maxConnections == 4096)
    }
}

/// Timeouts and the connection cap, against a running gateway over raw sockets.
@Suite(.serialized) struct ConnectionGuardTests {
    /// `GET /health` on a new connection that asks to be closed after the answer; the status, or nil.
    static func health(_ gateway: TestGateway) async throws -> Int? {
        let connection = try await RawConnection.open(port: gateway.port)
        try await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let status = await connection.nextResponse(within: .seconds(20))?.status
        await connection.close()
        return status
    }

    @Test func slowlorisConnectionsAreClosedAtTheHeaderTimeoutWhileHealthAnswers() async throws {
        // 3 s: opening 200 connections one by one must end well inside it on two loaded cores (with 1 s, the last
        // partial heads met connections the server had rightly closed already).
        let gateway = try await TestGateway.start(config: "gateway:\n  header_timeout: 3s\n  idle_timeout: 10m\n")
        let attackers = 200
        let started = ContinuousClock.now
        var connections: [(RawConnection, connecting: ContinuousClock.Instant)] = []
        for index in 0..<attackers {
            // Taken before connecting: the server's clock for this connection cannot start earlier.
            let connecting = ContinuousClock.now
            let connection = try await RawConnection.open(port: gateway.port)
            // Half send nothing at all; half start a head and then add to it a little at a time.
            if index.isMultiple(of: 2) { try await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n") }
            connections.append((connection, connecting))
        }
        let trickling = connections.enumerated().filter { $0.offset.isMultiple(of: 2) }.map(\.element.0)
        let trickle = Task {
            var line = 0
            while !Task.isCancelled {
                line += 1
                for connection in trickling { try? await connection.send("X-Slow-\(line): \(line)\r\n") }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }

        let ledger = AttackLedger(open: attackers)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (connection, _) in connections {
                group.addTask {
                    // Bounded: without a header timeout these never close, and the test fails below.
                    _ = await connection.waitUntilClosed(within: .seconds(30))
                    ledger.attackerEnded()
                }
            }
            group.addTask {
                while ledger.attackersOpen > 0 {
                    let open = ledger.attackersOpen
                    ledger.health(try await Self.health(gateway), attackersOpen: open)
                }
            }
            try await group.waitForAll()
        }
        var closed: [Duration] = []
        for (connection, connecting) in connections {
            if let end = await connection.closedAt() { closed.append(end - connecting) }
        }
        let healthDuringAttack = ledger.healthAnswers
        let elapsed = ContinuousClock.now - started

        #expect(closed.count == attackers, "every slow connection is closed by the server")
        #expect(closed.allSatisfy { $0 >= .milliseconds(2900) }, "none is closed before the header timeout")
        var answered408 = 0
        for (connection, _) in connections {
            let text = await connection.receivedText()
            if text.hasPrefix("HTTP/1.1 408") && text.contains("gateway.header_timeout (3s)") { answered408 += 1 }
        }
        #expect(answered408 == attackers, "each one is told why (408) before the close")
        #expect(!healthDuringAttack.isEmpty && healthDuringAttack.allSatisfy { $0.status == 200 }, "\(healthDuringAttack)")
        #expect(healthDuringAttack.contains { $0.attackersOpen >= attackers * 3 / 4 }, "/health answered while the attack was in full swing")
        let slowest = closed.max() ?? .zero
        print("slowloris: \(attackers) closed, slowest after \(slowest), all within \(elapsed); \(healthDuringAttack.count) /health answers")
        // Graceful shutdown waits for open connections: if the server failed to close them, the client does.
        trickle.cancel()
        for (connection, _) in connections { await connection.close() }
        try await gateway.stop()
    }

    @Test func idleKeepAliveConnectionIsClosedAfterTheIdleTimeoutAndABusyOneIsNot() async throws {
        let gateway = try await TestGateway.start(config: "gateway:\n  header_timeout: 10m\n  idle_timeout: 1s\n")
        let idle = try await RawConnection.open(port: gateway.port)
        let busy = try await RawConnection.open(port: gateway.port)
        try await idle.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let first = await idle.nextResponse(within: .seconds(20))
        #expect(first?.status == 200 && first?.headers["connection"] != "close", "the connection is kept alive after the answer")

        // A connection that keeps asking outlives the timeout: five requests 400 ms apart span 2 s on one socket.
        for _ in 0..<5 {
            try await busy.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(await busy.nextResponse(within: .seconds(20))?.status == 200)
            try await Task.sleep(for: .milliseconds(400))
        }
        #expect(await idle.waitUntilClosed(within: .seconds(30)), "the idle keep-alive connection is closed")
        await idle.close()
        await busy.close()
        try await gateway.stop()
    }

    @Test func unfinishedChunkedBodyIsClosed() async throws {
        let gateway = try await TestGateway.start(config: "gateway:\n  header_timeout: 10m\n  idle_timeout: 1s\napi:\n  openai:\n    enabled: true\n")
        let connection = try await RawConnection.open(port: gateway.port)
        try await connection.send(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(gateway.controlToken)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"model\":\r\n")
        #expect(await connection.waitUntilClosed(within: .seconds(30)), "a body that stops arriving is closed")
        #expect(await connection.receivedText().isEmpty, "nothing was answered: the route was still waiting for the body")
        await connection.close()
        try await gateway.stop()
    }

    @Test func webSocketOutlivesTheHTTPIdleTimeout() async throws {
        let gateway = try await TestGateway.start(config: "gateway:\n  idle_timeout: 1s\n")
        let socket = try await RawControlSocket.open(gateway)
        let http = try await RawConnection.open(port: gateway.port)
        try await http.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await http.nextResponse(within: .seconds(20))?.status == 200)
        // The HTTP connection, younger than the socket, is closed by the idle timeout: by then the socket's
        // own idle second has passed too.
        #expect(await http.waitUntilClosed(within: .seconds(30)))
        try await socket.send(text: #"{"v":1,"type":"req","id":"after-idle","method":"ping"}"#)
        #expect(await socket.waitForText(within: .seconds(20)) { $0.contains(#""id":"after-idle""#) }, "the WebSocket still answers")
        await socket.connection.close()
        await http.close()
        try await gateway.stop()
    }

    @Test func connectionOverTheCapIsRefusedWith503WhileExistingOnesAreServed() async throws {
        let cap = 8
        let gateway = try await TestGateway.start(config: "gateway:\n  max_connections: \(cap)\n")
        var held: [RawConnection] = []
        for _ in 0..<cap {
            let connection = try await RawConnection.open(port: gateway.port)
            try await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // Answered means accepted and counted, so the next connection is the one over the cap.
            #expect(await connection.nextResponse(within: .seconds(20))?.status == 200)
            held.append(connection)
        }

        let over = try await RawConnection.open(port: gateway.port)
        try await over.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let refusal = await over.nextResponse(within: .seconds(20))
        #expect(refusal?.status == 503)
        #expect(refusal?.body.contains("gateway.max_connections is \(cap)") == true)
        #expect(await over.waitUntilClosed(within: .seconds(20)))
        await over.close()

        try await held[0].send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await held[0].nextResponse(within: .seconds(20))?.status == 200, "a connection inside the cap is still served")

        // A closed connection frees its place; the server sees the close a moment later.
        await held.removeLast().close()
        let deadline = ContinuousClock.now + .seconds(20)
        var status: Int?
        while status != 200, ContinuousClock.now < deadline {
            status = try await Self.health(gateway)
            if status != 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(status == 200, "a freed place is given to the next connection")
        for connection in held { await connection.close() }
        try await gateway.stop()
    }
}

/// What the slowloris test saw: how many attackers are still open, and each `/health` answer with that number.
private final class AttackLedger: Sendable {
    private let state: Mutex<(open: Int, health: [(status: Int?, attackersOpen: Int)])>

    init(open: Int) {
        state = Mutex((open, []))
    }

    var attackersOpen: Int { state.withLock { $0.open } }
    var healthAnswers: [(status: Int?, attackersOpen: Int)] { state.withLock { $0.health } }

    func attackerEnded() {
        state.withLock { $0.open -= 1 }
    }

    func health(_ status: Int?, attackersOpen: Int) {
        state.withLock { $0.health.append((status, attackersOpen)) }
    }
}
