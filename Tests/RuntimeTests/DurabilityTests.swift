import AsyncHTTPClient
import FakePlatforms
import FakeProviders
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import Runtime

/// Bursts in many sessions against the real `swiftlet` binary, killed twice with SIGKILL and stopped once with a
/// SIGTERM whose grace cuts running turns: counted from the client (the callbacks) and from the database, no message
/// is lost, answered twice or answered with another message's text, and each session is answered in order.
///
/// The provider echoes the last user message, so every reply names the message it answers.
@Suite(.serialized) struct DurabilityTests {
    static let sessions = 50
    static let burst = 5

    /// Where the gateway under test listens; nil while it is down. Senders wait for it.
    final class Endpoint: Sendable {
        private let port = Mutex<Int?>(nil)
        func set(_ value: Int?) { port.withLock { $0 = value } }
        var current: Int? { port.withLock { $0 } }
    }

    struct Sent: Sendable, Hashable {
        var session: Int
        var index: Int
        var text: String { "s\(session) m\(index)" }
        var externalID: String { "s\(session)-m\(index)" }
    }

    /// Posts one message until the gateway has it (accepted or recognised as a duplicate): a post cut by a kill is
    /// sent again, as a platform redelivers an unacknowledged webhook. Returns the gateway's message id.
    static func deliver(_ message: Sent, to endpoint: Endpoint) async throws -> String {
        let body = #"{"sender":"user\#(message.session)","text":"\#(message.text)","id":"\#(message.externalID)","reply":"callback"}"#
        for _ in 0..<3000 {
            if let port = endpoint.current {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/hooks/load")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer tok-load")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                if let response = try? await TestGateway.client.execute(request, timeout: .seconds(10)),
                    let data = try? await response.body.collect(upTo: 1 << 20), [200, 202].contains(Int(response.status.code)),
                    let json = try? JSONSerialization.jsonObject(with: Data(data.readableBytesView)) as? [String: Any], let id = json["message_id"] as? String
                {
                    return id
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw WebChatProbe.Timeout(waitingFor: "the gateway to take \(message.externalID)", seen: [])
    }

    /// Sends `indices` of every session as bursts (each session's messages back to back, sessions in parallel).
    static func sendBursts(_ indices: ClosedRange<Int>, to endpoint: Endpoint) async throws -> [String: Sent] {
        try await withThrowingTaskGroup(of: [(String, Sent)].self) { group in
            for session in 0..<sessions {
                group.addTask {
                    var ids: [(String, Sent)] = []
                    for index in indices {
                        let message = Sent(session: session, index: index)
                        ids.append((try await deliver(message, to: endpoint), message))
                    }
                    return ids
                }
            }
            var all: [String: Sent] = [:]
            for try await ids in group {
                for (id, message) in ids { all[id] = message }
            }
            return all
        }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(120), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw WebChatProbe.Timeout(waitingFor: what, seen: []) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func answered(_ receiver: FakeCallbackReceiver) -> Set<String> {
        Set(receiver.requests.compactMap { $0.json?["message_id"] as? String })
    }

    static func start(_ workspace: Workspace, _ endpoint: Endpoint) async throws -> Process {
        let gateway = try await CrashRecoveryTests.start(workspace)
        endpoint.set(gateway.port)
        return gateway.process
    }

    @Test("bursts of 5 in 50 sessions through two SIGKILLs and a cutting SIGTERM: 0 lost, 0 answered twice, 0 misanswered, in order")
    func burstsSurviveKillsAndAGracefulStop() async throws {
        let fake = FakeProvider(configuration: .init(latency: .milliseconds(60), recordsRequests: false))
        let receiver = FakeCallbackReceiver()
        try await FakeProviderServer.withServer(fake) { provider in
            try await FakePlatformServer.withServer(receiver.router) { callbacks in
                let workspace = try TestGateway.makeWorkspace(
                    config: """
                        providers:
                          fake:
                            base_url: \(provider.baseURL)/v1
                            first_token_timeout: 60s
                        agent:
                          models: [fake/m1]
                        gateway:
                          shutdown_grace: 1s
                        channels:
                          load:
                            dm_policy: open
                            hook:
                              token: tok-load
                              callback_url: \(callbacks.baseURL)/replies
                        limits:
                          global_per_minute: 0
                          channel_per_minute: 0
                          sender_per_minute: 0
                          ip_per_minute: 0
                        """)
                let endpoint = Endpoint()
                var process = try await Self.start(workspace, endpoint)

                // Phase 1: five messages per session, killed twice mid-run.
                let firstRound = Task { try await Self.sendBursts(1...Self.burst, to: endpoint) }
                for threshold in [Self.sessions, Self.sessions * 3] {
                    try await Self.waitUntil("\(threshold) answers") { Self.answered(receiver).count >= threshold }
                    endpoint.set(nil)
                    let killed = process
                    kill(killed.processIdentifier, SIGKILL)
                    try await offPool { killed.waitUntilExit() }
                    #expect(killed.terminationReason == .uncaughtSignal)
                    process = try await Self.start(workspace, endpoint)
                }
                var sent = try await firstRound.value
                try await Self.waitUntil("every answer of the first round") { Self.answered(receiver).isSuperset(of: sent.keys) }

                // Phase 2: slow answers, then a graceful stop whose 1 s grace cuts the turns still running.
                fake.configuration.latency = .seconds(3)
                let before = fake.requestCount
                let secondRound = Task { try await Self.sendBursts((Self.burst + 1)...(2 * Self.burst), to: endpoint) }
                try await Self.waitUntil("turns running") { fake.requestCount - before >= Self.sessions / 2 }
                let deliveredBeforeStop = receiver.requests.count
                endpoint.set(nil)
                let stopped = process
                stopped.terminate()
                try await offPool { stopped.waitUntilExit() }
                #expect(stopped.terminationReason == .exit && stopped.terminationStatus == 0)
                fake.configuration.latency = .milliseconds(60)
                process = try await Self.start(workspace, endpoint)
                sent.merge(try await secondRound.value) { first, _ in first }
                try await Self.waitUntil("every answer of the second round") { Self.answered(receiver).isSuperset(of: sent.keys) }
                let last = process
                last.terminate()
                try await offPool { last.waitUntilExit() }
                #expect(last.terminationStatus == 0)

                let outOfOrder = try Self.checkClientSide(receiver.requests, sent: sent, redeliveryAfter: deliveredBeforeStop)
                if !outOfOrder.isEmpty { Issue.record("traces of sessions answered out of order:\n\(try await Self.traces(workspace, outOfOrder))") }
                try await Self.checkDatabase(workspace, sent: sent)
            }
        }
    }

    /// What the callback receiver saw: one answer per message, its own text echoed, sessions in order; nothing
    /// delivered before the graceful stop came again after it.
    @discardableResult
    static func checkClientSide(_ callbacks: [FakeCallbackReceiver.Received], sent: [String: Sent], redeliveryAfter stopIndex: Int) throws -> [String] {
        #expect(sent.count == sessions * burst * 2)
        var keys: [String: Set<String>] = [:]
        var bodies: [String: Set<String>] = [:]
        var firstArrival: [String: Int] = [:]
        var misanswered = 0, errors = 0, unknown = 0
        for (position, callback) in callbacks.enumerated() {
            guard let json = callback.json, let id = json["message_id"] as? String, let reply = json["reply"] as? String else { continue }
            guard let message = sent[id] else {
                unknown += 1
                continue
            }
            keys[id, default: []].insert(callback.headers["Idempotency-Key"] ?? "")
            bodies[id, default: []].insert(reply)
            if json["kind"] as? String != "message" { errors += 1 }
            if reply != "echo: \(message.text)" { misanswered += 1 }
            if firstArrival[id] == nil { firstArrival[id] = position }
        }
        let lost = Set(sent.keys).subtracting(firstArrival.keys).count
        let twice = bodies.values.filter { $0.count > 1 }.count + keys.values.filter { $0.count > 1 }.count
        let redeliveredAfterStop = callbacks.enumerated().filter { position, callback in
            guard position >= stopIndex, let id = callback.json?["message_id"] as? String, let first = firstArrival[id] else { return false }
            return first < stopIndex
        }.count
        #expect(lost == 0, "messages never answered")
        #expect(twice == 0, "messages answered with two different replies")
        #expect(misanswered == 0, "replies carrying another message's text")
        #expect(errors == 0, "error replies (a cut turn must stay pending, not fail)")
        #expect(unknown == 0)
        #expect(redeliveredAfterStop == 0, "replies delivered before the graceful stop and again after it")
        var outOfOrder: [String] = []
        for session in 0..<sessions {
            let arrivals = sent.filter { $0.value.session == session }.sorted { firstArrival[$0.key] ?? .max < firstArrival[$1.key] ?? .max }
            let order = arrivals.map(\.value.index)
            #expect(order == Array(1...(2 * burst)), "session \(session) answered out of order")
            if order != Array(1...(2 * burst)) { outOfOrder += arrivals.map(\.key) }
        }
        return outOfOrder
    }

    /// The trace hops of messages, one line each, for a failure's explanation.
    static func traces(_ workspace: Workspace, _ ids: [String]) async throws -> String {
        let store = try SQLiteStore(path: workspace.path("data/swiftlet.sqlite").path)
        var lines: [String] = []
        for id in ids {
            let hops = try await store.traceEvents(messageID: id).map { "\($0.hop)@\($0.at.timeIntervalSince1970)" }
            lines.append("\(id): \(hops.joined(separator: " "))")
        }
        try await store.close()
        return lines.joined(separator: "\n")
    }

    /// What the gateway stored: every message done once, its reply sent, each transcript the conversation in order.
    static func checkDatabase(_ workspace: Workspace, sent: [String: Sent]) async throws {
        let queue = try DatabaseQueue(path: workspace.path("data/swiftlet.sqlite").path)
        try await queue.read { db in
            let statuses = try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM ingress_journal WHERE channel = 'load' GROUP BY status")
            #expect(statuses.map { "\($0["status"] as String):\($0["n"] as Int)" } == ["done:\(sent.count)"])
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ingress_journal WHERE channel = 'load' AND error IS NOT NULL") == 0)
            let outbox = try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM outbox WHERE message_id IN (SELECT id FROM ingress_journal WHERE channel = 'load') GROUP BY status")
            #expect(outbox.map { "\($0["status"] as String):\($0["n"] as Int)" } == ["sent:\(sent.count)"])
            // The graceful stop did cut running turns (else this test proved nothing about them).
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message_traces WHERE hops LIKE '%turn.interrupted%'") ?? 0 > 0)
            for session in 0..<sessions {
                let rows = try String.fetchAll(
                    db,
                    sql: "SELECT m.content FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.key = ? ORDER BY m.id",
                    arguments: ["load:dm:user\(session)"])
                let expected = (1...(2 * burst)).flatMap { ["s\(session) m\($0)", "echo: s\(session) m\($0)"] }
                #expect(rows == expected, "transcript of session \(session)")
            }
        }
    }
}
