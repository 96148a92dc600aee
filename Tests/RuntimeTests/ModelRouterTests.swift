import FakeProviders
import Foundation
import Synchronization
import Testing

@testable import Runtime

/// Failover behaviour of the router against fake providers: order, retries, breaker, mid-stream failover.
@Suite struct ModelRouterTests {
    static let quick = RoutePolicy(
        strategy: .fallback, maxAttempts: 2, backoffBase: .milliseconds(10), backoffMax: .seconds(2), breakerThreshold: 2, breakerCooldown: .seconds(60))

    /// A router with providers `a` (OpenAI wire) and `b` (Anthropic wire) on one fake server, models a/m1 then b/m2.
    @discardableResult
    static func withRouter<T: Sendable>(
        policy: RoutePolicy = quick, models: [String] = ["a/m1", "b/m2"], fake: FakeProvider = FakeProvider(),
        _ body: @Sendable (ModelRouter, FakeProvider) async throws -> T
    ) async throws -> T {
        try await FakeProviderServer.withServer(fake) { server in
            let timeouts = ProviderTimeouts(connect: .seconds(5), firstToken: .seconds(10), idle: .seconds(10), total: .seconds(30))
            let router = ModelRouter(maxConnections: 8)
            router.configure(
                providers: [
                    ProviderSettings(name: "a", kind: .openai, baseURL: server.baseURL + "/v1", timeouts: timeouts),
                    ProviderSettings(name: "b", kind: .anthropic, baseURL: server.baseURL, timeouts: timeouts),
                ],
                models: models.compactMap(ModelRef.init), policy: policy)
            do {
                let result = try await body(router, fake)
                await router.shutdown()
                return result
            } catch {
                await router.shutdown()
                throw error
            }
        }
    }

    /// Collects router events as short strings.
    final class Events: Sendable {
        let list = Mutex<[String]>([])
        func observe(_ event: ModelRouter.Event) {
            let text: String
            switch event {
            case .started(let ref, let attempt): text = "start \(ref) #\(attempt)"
            case .text: return
            case .discarded(let ref): text = "discard \(ref)"
            case .finished(let ref, let attempt, _, _, let error): text = "end \(ref) #\(attempt)" + (error == nil ? " ok" : " failed")
            }
            list.withLock { $0.append(text) }
        }
        var all: [String] { list.withLock { $0 } }
    }

    static func ask(_ router: ModelRouter, _ text: String = "hi", events: Events = Events(), override: ModelRef? = nil) async throws -> ModelRouter.Outcome {
        try await router.complete(ModelRequest(model: "", messages: [.user(text)]), override: override) { events.observe($0) }
    }

    @Test func firstModelAnswersWhenHealthy() async throws {
        try await Self.withRouter { router, fake in
            let outcome = try await Self.ask(router)
            #expect(outcome.model.description == "a/m1")
            #expect(outcome.reply.text == "echo: hi")
            #expect(fake.requestCount == 1)
        }
    }

    @Test func retriesRetryableErrorsThenFallsBack() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 500), .error(status: 503), model: "m1")
        try await Self.withRouter(fake: fake) { router, fake in
            let events = Events()
            let outcome = try await Self.ask(router, events: events)
            #expect(outcome.model.description == "b/m2")
            #expect(events.all == ["start a/m1 #1", "end a/m1 #1 failed", "start a/m1 #2", "end a/m1 #2 failed", "start b/m2 #1", "end b/m2 #1 ok"])
            #expect(fake.requests(for: .anthropic).count == 1)
        }
    }

    @Test func nonRetryableErrorMovesOnAtOnce() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 401), model: "m1")
        try await Self.withRouter(fake: fake) { router, _ in
            let events = Events()
            let outcome = try await Self.ask(router, events: events)
            #expect(outcome.model.description == "b/m2")
            #expect(events.all.filter { $0.hasPrefix("start a/m1") }.count == 1)
        }
    }

    @Test func retryAfterIsHonouredBeforeTheRetry() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 429, retryAfter: 1), model: "m1")
        try await Self.withRouter(fake: fake) { router, fake in
            let outcome = try await Self.ask(router)
            #expect(outcome.model.description == "a/m1")
            let times = fake.requests.map(\.receivedAt)
            #expect(times.count == 2)
            #expect(times[1] - times[0] >= .milliseconds(950), "the retry came \(times[1] - times[0]) after the 429 with Retry-After: 1")
        }
    }

    @Test func retryAfterBeyondTheLimitGoesToTheNextModel() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 429, retryAfter: 120), model: "m1")
        try await Self.withRouter(fake: fake) { router, _ in
            let events = Events()
            let outcome = try await Self.ask(router, events: events)
            #expect(outcome.model.description == "b/m2")
            #expect(!events.all.contains("start a/m1 #2"))
        }
    }

    @Test func roundRobinRotatesTheFirstChoice() async throws {
        var policy = Self.quick
        policy.strategy = .roundRobin
        try await Self.withRouter(policy: policy) { router, _ in
            var used: [String] = []
            for _ in 0..<4 { used.append(try await Self.ask(router).model.description) }
            #expect(used == ["a/m1", "b/m2", "a/m1", "b/m2"])
        }
    }

    @Test func breakerOpensAfterRepeatedFaultsAndSkipsTheProvider() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 503), .error(status: 503), model: "m1")
        try await Self.withRouter(fake: fake) { router, fake in
            _ = try await Self.ask(router)
            #expect(router.health().first { $0.name == "a" }?.breaker == "open")
            let before = fake.requests(for: .openAI).count
            let events = Events()
            let outcome = try await Self.ask(router, events: events)
            #expect(outcome.model.description == "b/m2")
            #expect(fake.requests(for: .openAI).count == before, "an open breaker must not call the provider")
            #expect(events.all.first == "start b/m2 #1")
        }
    }

    @Test func breakerClosesAfterASuccessfulTrial() async throws {
        var policy = Self.quick
        policy.breakerCooldown = .milliseconds(200)
        let fake = FakeProvider()
        fake.enqueue(.error(status: 503), .error(status: 503), model: "m1")
        try await Self.withRouter(policy: policy, fake: fake) { router, _ in
            _ = try await Self.ask(router)
            #expect(router.health().first { $0.name == "a" }?.breaker == "open")
            try await Task.sleep(for: .milliseconds(300))
            let outcome = try await Self.ask(router)
            #expect(outcome.model.description == "a/m1")
            #expect(router.health().first { $0.name == "a" }?.breaker == "closed")
        }
    }

    @Test func streamThatDiesMidwayIsDiscardedBeforeFailover() async throws {
        let fake = FakeProvider()
        fake.enqueue(.streamError(afterChunks: 3), .streamError(afterChunks: 3), model: "m1")
        try await Self.withRouter(fake: fake) { router, _ in
            let shown = Mutex<String>("")
            let outcome = try await router.complete(ModelRequest(model: "", messages: [.user("a long enough answer please")])) { event in
                switch event {
                case .text(let text): shown.withLock { $0 += text }
                case .discarded: shown.withLock { $0 = "" }
                default: break
                }
            }
            #expect(outcome.model.description == "b/m2")
            // What a consumer kept is exactly the final answer: no half of the failed one glued in front.
            #expect(shown.withLock { $0 } == outcome.reply.text)
            #expect(outcome.reply.text == "echo: a long enough answer please")
        }
    }

    @Test func everyModelFailingGivesOneClearError() async throws {
        let fake = FakeProvider(configuration: .init(models: ["other"]))
        try await Self.withRouter(fake: fake) { router, _ in
            do {
                _ = try await Self.ask(router)
                Issue.record("expected exhaustion")
            } catch let error as ProviderError {
                guard case .exhausted(let attempts) = error else {
                    Issue.record("got \(error)")
                    return
                }
                #expect(attempts.map(\.model) == ["a/m1", "b/m2"])
                #expect(attempts.allSatisfy { $0.error.description.contains("404") })
            }
        }
    }

    @Test func overrideGoesFirstAndUnknownProviderIsNamed() async throws {
        try await Self.withRouter { router, _ in
            let outcome = try await Self.ask(router, override: ModelRef("b/m9"))
            #expect(outcome.model.description == "b/m9")
            #expect(router.problem(with: ModelRef("zzz/m")!)?.contains("no provider named 'zzz'") == true)
        }
    }

    @Test func noModelsIsNotConfigured() async throws {
        try await Self.withRouter(models: []) { router, fake in
            do {
                _ = try await Self.ask(router)
                Issue.record("expected notConfigured")
            } catch let error as ProviderError {
                guard case .notConfigured(let reason) = error else {
                    Issue.record("expected notConfigured, got \(error)")
                    return
                }
                #expect(reason.contains("agent.models"))
            }
            #expect(fake.requestCount == 0)
        }
    }

    @Test("a 500 that repeats for the same body is the request's fault: not retried again, and it never opens the breaker")
    func repeatedServerErrorStaysWithItsRequest() async throws {
        let fake = FakeProvider()
        let broken = FakeReply.error(status: 500, message: "Internal Server Error: cannot apply the chat template")
        fake.enqueue(broken, broken, broken, broken, model: "m1")
        try await Self.withRouter(fake: fake) { router, fake in
            for _ in 0..<2 {
                let events = Events()
                let outcome = try await Self.ask(router, events: events)
                #expect(outcome.model.description == "b/m2")
                #expect(events.all == ["start a/m1 #1", "end a/m1 #1 failed", "start a/m1 #2", "end a/m1 #2 failed", "start b/m2 #1", "end b/m2 #1 ok"])
            }
            // Two requests failed twice each, the breaker threshold is 2: a breaker counting them would be open now.
            #expect(router.health().first { $0.name == "a" }?.breaker == "closed")
            let outcome = try await Self.ask(router)
            #expect(outcome.model.description == "a/m1", "other requests still reach the provider")
            #expect(fake.pendingReplyCount == 0)
        }
    }

    @Test("a 400 is not retried and does not count against the provider")
    func badRequestMovesOnWithoutCounting() async throws {
        let fake = FakeProvider()
        fake.enqueue(.error(status: 400), .error(status: 400), .error(status: 400), model: "m1")
        try await Self.withRouter(fake: fake) { router, _ in
            for _ in 0..<3 {
                let events = Events()
                _ = try await Self.ask(router, events: events)
                #expect(events.all.prefix(2) == ["start a/m1 #1", "end a/m1 #1 failed"])
                #expect(events.all.count == 4)
            }
            #expect(router.health().first { $0.name == "a" }?.breaker == "closed")
        }
    }

    @Test("a refused connection is not retried and fails over without waiting for the connect timeout")
    func refusedConnectionFailsOverAtOnce() async throws {
        let deadPort = try CommandLineTests.unusedPort()
        try await FakeProviderServer.withServer(FakeProvider()) { server in
            // A connect timeout far longer than the bound below: waiting for it would fail the test.
            let timeouts = ProviderTimeouts(connect: .seconds(60), firstToken: .seconds(10), idle: .seconds(10), total: .seconds(90))
            let router = ModelRouter(maxConnections: 8)
            router.configure(
                providers: [
                    ProviderSettings(name: "dead", kind: .openai, baseURL: "http://127.0.0.1:\(deadPort)/v1", timeouts: timeouts),
                    ProviderSettings(name: "b", kind: .anthropic, baseURL: server.baseURL, timeouts: timeouts),
                ],
                models: [ModelRef("dead/m1")!, ModelRef("b/m2")!], policy: Self.quick)
            let events = Events()
            let started = ContinuousClock.now
            let outcome = try await Self.ask(router, events: events)
            await router.shutdown()
            #expect(outcome.model.description == "b/m2")
            #expect(events.all == ["start dead/m1 #1", "end dead/m1 #1 failed", "start b/m2 #1", "end b/m2 #1 ok"])
            #expect(ContinuousClock.now - started < .seconds(20), "the refused port cost the connect timeout")
            #expect(router.health().first { $0.name == "dead" }?.lastError?.contains("connection refused") == true)
        }
    }

    /// Whether something accepts connections on a loopback port.
    static func connects(port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
