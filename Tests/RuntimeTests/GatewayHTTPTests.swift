import Foundation
import Logging
import GRDB
import NIOHTTP1
import PluginAPI
import Testing

@testable import Runtime

@Suite(.serialized) struct GatewayHTTPTests {
    @Test func healthAndReadiness() async throws {
        let gateway = try await TestGateway.start()
        let health = try await gateway.request("/health")
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
        let ready = try await gateway.request("/ready")
        #expect(ready.status == 200)
        #expect(ready.json["ready"] as? Bool == true)
        #expect((ready.json["not_ready"] as? [String])?.isEmpty == true)
        try await gateway.stop()
    }

    @Test func readinessNamesWhatIsNotReady() async throws {
        let gateway = try await TestGateway.start()
        try await gateway.state.store.close()
        let ready = try await gateway.request("/ready")
        #expect(ready.status == 503)
        #expect((ready.json["not_ready"] as? [String])?.first?.hasPrefix("store:") == true)
        await gateway.state.requestShutdown()
        _ = try? await gateway.finished()
    }

    @Test func adminAPIRequiresAValidToken() async throws {
        let gateway = try await TestGateway.start()
        let missing = try await gateway.request("/admin/v1/status")
        #expect(missing.status == 401)
        #expect((missing.json["error"] as? [String: Any])?["code"] as? String == "token_missing")
        #expect(missing.headers["WWW-Authenticate"].first?.hasPrefix("Bearer") == true)

        let wrong = try await gateway.request("/admin/v1/status", token: ControlToken.generate())
        #expect((wrong.json["error"] as? [String: Any])?["code"] as? String == "token_invalid")

        let basic = try await gateway.request("/admin/v1/status", headers: [("Authorization", "Basic dXNlcjpwYXNz")])
        #expect((basic.json["error"] as? [String: Any])?["code"] as? String == "token_invalid")

        let expired = try await gateway.state.authenticator.signer.issue(scope: .dashboard, subject: "t", lifetime: .seconds(1), now: Date().addingTimeInterval(-60))
        let expiredReply = try await gateway.request("/admin/v1/status", token: expired.token)
        #expect(expiredReply.status == 401)
        #expect((expiredReply.json["error"] as? [String: Any])?["code"] as? String == "token_expired")

        let ok = try await gateway.request("/admin/v1/status", token: gateway.controlToken)
        #expect(ok.status == 200)
        #expect(ok.json["port"] as? Int == gateway.port)
        #expect(ok.json["version"] as? String == SwiftletVersion.current)
        #expect(ok.json["plugin_abi"] as? Int == Int(PluginABI.version))

        let denied = try await gateway.state.store.auditEvents(type: "auth.denied", limit: 10)
        #expect(denied.count == 4)
        #expect(denied.allSatisfy { $0.ipAddress == "127.0.0.1" })
        try await gateway.stop()
    }

    @Test func adminActionsAreAudited() async throws {
        let gateway = try await TestGateway.start()
        _ = try await gateway.request("/admin/v1/status", token: gateway.controlToken, headers: [("User-Agent", "audit-test")])
        _ = try await gateway.request("/admin/v1/config/reload", method: .POST, token: gateway.controlToken)
        let audit = try await gateway.request("/admin/v1/audit?limit=20", token: gateway.controlToken)
        #expect(audit.status == 200)
        let events = try await gateway.state.store.auditEvents(type: nil, limit: 50)
        let types = Set(events.map(\.eventType))
        #expect(types.isSuperset(of: ["admin.status", "admin.config.reload", "config.reloaded", "admin.audit.read", "gateway.started", "control_token.created"]))
        let status = try #require(events.first { $0.eventType == "admin.status" })
        #expect(status.userAgent == "audit-test")
        #expect(status.userID?.hasPrefix("control:") == true)
        #expect(status.payload.contains("/admin/v1/status"))
        try await gateway.stop()
    }

    @Test func urlTokenIsExchangedForAnHttpOnlyCookieAndLeavesTheAddressBar() async throws {
        let gateway = try await TestGateway.start()
        let login = try await gateway.request("/")
        #expect(login.status == 401)
        #expect(login.body.contains("swiftlet dashboard --token-gen"))

        let dashboard = try await gateway.state.authenticator.signer.issue(scope: .dashboard, subject: "dashboard", lifetime: .seconds(3600))
        let exchange = try await gateway.request("/?token=\(dashboard.token)")
        #expect(exchange.status == 303)
        #expect(exchange.headers["Location"].first == "/")
        let cookie = try #require(exchange.headers["Set-Cookie"].first)
        #expect(cookie.hasPrefix("\(ControlAuthenticator.cookieName)="))
        #expect(cookie.contains("HttpOnly"))
        #expect(cookie.contains("SameSite=Strict"))
        #expect(cookie.contains("Path=/"))
        #expect(!cookie.contains(dashboard.token), "the cookie carries a session token, not the URL token")

        let sessionToken = String(cookie.split(separator: ";")[0].dropFirst(ControlAuthenticator.cookieName.count + 1))
        let page = try await gateway.request("/", headers: [("Cookie", "\(ControlAuthenticator.cookieName)=\(sessionToken)")])
        #expect(page.status == 200)
        #expect(page.body.contains("/assets/chat.js"))
        #expect(page.headers["Content-Security-Policy"].first?.contains("frame-ancestors 'none'") == true)
        let admin = try await gateway.request("/admin/v1/status", headers: [("Cookie", "\(ControlAuthenticator.cookieName)=\(sessionToken)")])
        #expect(admin.status == 200)

        let bad = try await gateway.request("/?token=garbage")
        #expect(bad.status == 401)
        #expect(try await gateway.state.store.auditEvents(type: "auth.cookie_exchange", limit: 5).count == 1)
        try await gateway.stop()
    }

    @Test func invalidConfigReloadIsRefusedAndTheRunningOneStays() async throws {
        let gateway = try await TestGateway.start(config: "logging:\n  level: info\n")
        try "logging:\n  level: loud\n  colour: yes\n".write(to: gateway.workspace.configFile, atomically: true, encoding: .utf8)
        let refused = try await gateway.request("/admin/v1/config/reload", method: .POST, token: gateway.controlToken)
        #expect(refused.status == 422)
        let issues = refused.json["issues"] as? [String] ?? []
        #expect(issues.count == 2)
        #expect(issues.allSatisfy { $0.hasPrefix("config.yaml:") })
        #expect(gateway.state.config.logging.level == .info)
        #expect(try await gateway.request("/health").status == 200)

        try "logging:\n  level: debug\ngateway:\n  max_body_size: 2MiB\n".write(to: gateway.workspace.configFile, atomically: true, encoding: .utf8)
        let applied = try await gateway.request("/admin/v1/config/reload", method: .POST, token: gateway.controlToken)
        #expect(applied.status == 200)
        #expect(applied.json["changed"] as? [String] == ["logging.level"])
        #expect(applied.json["restart_required"] as? [String] == ["gateway.max_body_size"])
        #expect(gateway.state.config.logging.level == .debug)
        #expect(gateway.state.logSink.currentLevel == .debug)
        #expect(try await gateway.state.store.auditEvents(type: "config.reload_refused", limit: 5).count == 1)
        try await gateway.stop()
    }

    @Test func oversizedBodiesGet413() async throws {
        let gateway = try await TestGateway.start(config: "gateway:\n  max_body_size: 1KiB\n")
        let reply = try await gateway.request("/admin/v1/config/reload", method: .POST, token: gateway.controlToken, body: String(repeating: "x", count: 4096))
        #expect(reply.status == 413)
        #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "body_too_large")
        #expect(try await gateway.request("/health").status == 200)
        try await gateway.stop()
    }

    @Test func nonLoopbackWithoutAuthIsRefused() async throws {
        let workspace = try TestGateway.makeWorkspace(config: "gateway:\n  bind: 0.0.0.0\n  auth: none\n")
        let loader = ConfigLoader(workspace: workspace, environment: [:])
        let config = try loader.load()
        await #expect {
            _ = try await Gateway.open(config: config, loader: loader, logSink: try LogSink(settings: .init(stdout: false)))
        } throws: { error in
            "\(error)".contains("refusing to listen on 0.0.0.0 without authentication")
        }
    }

    @Test func portInUseIsAClearError() async throws {
        let first = try await TestGateway.start()
        let workspace = try TestGateway.makeWorkspace(config: "gateway:\n  port: \(first.port)\n")
        let loader = ConfigLoader(workspace: workspace, environment: [:])
        let second = try await Gateway.open(config: try loader.load(), loader: loader, logSink: try LogSink(settings: .init(stdout: false)))
        await #expect {
            try await second.run(handleSignals: false)
        } throws: { error in
            "\(error)".contains("port \(first.port) on 127.0.0.1 is already in use")
        }
        #expect(try await first.request("/health").status == 200, "the running gateway is unaffected")
        try await first.stop()
    }

    @Test func unusableWorkspaceIsAClearError() async throws {
        let workspace = try TestGateway.makeWorkspace()
        try FileManager.default.removeItem(at: workspace.dataDirectory)
        try Data("not a folder".utf8).write(to: workspace.dataDirectory)
        let loader = ConfigLoader(workspace: workspace, environment: [:])
        await #expect {
            _ = try await Gateway.open(config: try loader.load(), loader: loader, logSink: try LogSink(settings: .init(stdout: false)))
        } throws: { error in
            "\(error)".contains("exists and is not a directory")
        }
    }

    /// A request blocked inside the gateway (here: its audit write waits for a database lock held by the
    /// test) must still be answered after shutdown starts, and the store must close only after it.
    @Test func gracefulShutdownFinishesInFlightRequests() async throws {
        let gateway = try await TestGateway.start()
        let databasePath = gateway.workspace.path("data/swiftlet.sqlite").path
        var lockerConfiguration = Configuration()
        lockerConfiguration.allowsUnsafeTransactions = true  // the test holds the write lock across calls on purpose
        let locker = try DatabaseQueue(path: databasePath, configuration: lockerConfiguration)
        try locker.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") }

        let inFlight = Task { try await gateway.request("/admin/v1/status", token: gateway.controlToken) }
        try await Task.sleep(for: .milliseconds(300))
        let stopping = Task { try await gateway.stop() }
        try await Task.sleep(for: .milliseconds(300))
        try locker.inDatabase { try $0.execute(sql: "COMMIT") }

        let reply = try await inFlight.value
        #expect(reply.status == 200)
        try await stopping.value
        await #expect(throws: (any Error).self) { try await gateway.request("/health") }

        let events = try await locker.read { try String.fetchAll($0, sql: "SELECT event_type FROM audit_log ORDER BY id") }
        #expect(events.last == "gateway.stopped", "the store was closed after the last request was audited")
        #expect(events.contains("admin.status"))
        #expect(!FileManager.default.fileExists(atPath: gateway.workspace.runtimeFile.path))
    }
}
