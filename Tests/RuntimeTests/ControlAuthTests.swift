import Foundation
import Logging
import Testing

@testable import Runtime

@Suite struct ControlAuthTests {
    func makeAuthenticator(key: String = "0123456789abcdef0123456789abcdef") async throws -> (ControlAuthenticator, SQLiteStore) {
        let store = try SQLiteStore(path: SQLiteStoreTests.temporaryPath())
        return (ControlAuthenticator(store: store, signer: await ControlTokenSigner(signingKey: key)), store)
    }

    @Test func controlTokenIs128BitHexAndStoredHashed() async throws {
        let (auth, store) = try await makeAuthenticator()
        let token = try #require(try await auth.bootstrapControlToken())
        #expect(token.count == 32 && ControlToken.looksLikeControlToken(token))
        #expect(try await auth.bootstrapControlToken() == nil, "a second start must not create another token")
        #expect(try await store.controlToken(hash: ControlToken.hash(token)) != nil)
        #expect(try await store.controlToken(hash: token) == nil, "the plain token is never stored")
        let principal = try await auth.authenticate(token)
        #expect(principal.kind == .controlToken)
        #expect(try await store.auditEvents(type: "control_token.created", limit: 5).count == 1)
    }

    @Test func missingWrongExpiredAndRevokedTokensAreRefusedDistinctly() async throws {
        let (auth, store) = try await makeAuthenticator()
        await #expect(throws: ControlAuthFailure.missing) { try await auth.authenticate(nil) }
        await #expect(throws: ControlAuthFailure.missing) { try await auth.authenticate("") }
        await #expect(throws: ControlAuthFailure.invalid) { try await auth.authenticate(ControlToken.generate()) }
        await #expect(throws: ControlAuthFailure.invalid) { try await auth.authenticate("not.a.jwt") }

        let expired = try await auth.signer.issue(scope: .dashboard, subject: "t", lifetime: .seconds(60), now: Date().addingTimeInterval(-120))
        await #expect(throws: ControlAuthFailure.expired) { try await auth.authenticate(expired.token) }

        let valid = try await auth.signer.issue(scope: .dashboard, subject: "t", lifetime: .seconds(60))
        #expect(try await auth.authenticate(valid.token).kind == .dashboardToken)

        var revoked = ControlTokenRecord(id: "r", name: "r", tokenHash: ControlToken.hash("ffffffffffffffffffffffffffffffff"))
        revoked.revokedAt = Date()
        try await store.insertControlToken(revoked)
        await #expect(throws: ControlAuthFailure.revoked) { try await auth.authenticate("ffffffffffffffffffffffffffffffff") }
    }

    @Test func tokensSignedWithAnotherKeyOrTamperedAreInvalid() async throws {
        let (auth, _) = try await makeAuthenticator()
        let other = await ControlTokenSigner(signingKey: "another-key-another-key-another-key")
        let foreign = try await other.issue(scope: .dashboard, subject: "x", lifetime: .seconds(60))
        await #expect(throws: ControlAuthFailure.invalid) { try await auth.authenticate(foreign.token) }

        let mine = try await auth.signer.issue(scope: .session, subject: "x", lifetime: .seconds(60))
        var parts = mine.token.split(separator: ".").map(String.init)
        parts[1] = Data("{\"sub\":\"x\",\"jti\":\"y\",\"iat\":0,\"exp\":99999999999,\"scope\":\"session\"}".utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        await #expect(throws: ControlAuthFailure.invalid) { try await auth.authenticate(parts.joined(separator: ".")) }
    }

    @Test func bindPolicyRefusesNonLoopbackWithoutAuth() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::1]"] {
            #expect(BindPolicy.isLoopback(host), "\(host)")
            #expect(BindPolicy.refusal(bind: host, auth: .none) == nil)
        }
        for host in ["0.0.0.0", "192.168.1.10", "::", "example.com", "128.0.0.1", "::ffff:10.0.0.1"] {
            #expect(!BindPolicy.isLoopback(host), "\(host)")
            #expect(BindPolicy.refusal(bind: host, auth: .none)?.contains("without authentication") == true)
            #expect(BindPolicy.refusal(bind: host, auth: .token) == nil)
        }
    }

    @Test func signingKeyFileIsCreatedOncePrivately() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("control.key")
        let first = try SigningKeyFile.loadOrCreate(at: url)
        #expect(first.count == 64)
        #expect(try SigningKeyFile.loadOrCreate(at: url) == first)
        #expect(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int == 0o600)
    }
}

@Suite struct LoggingTests {
    @Test func jsonLinesCarryTraceIDAndRedactSecrets() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("swiftlet.log").path
        let sink = try LogSink(settings: .init(level: .info, stdout: false, file: (path, 400, 2)))
        sink.redactor.register("s3cr3t-token-value")
        let logger = sink.makeLogger(label: "swiftlet.test")
        logger.info("using s3cr3t-token-value now", metadata: ["trace_id": "msg-1", "api_key": "abc", "count": "3"])
        logger.debug("below the level")
        let line = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["trace_id"] as? String == "msg-1")
        #expect(object["service"] as? String == "swiftlet.test")
        #expect(object["level"] as? String == "info")
        #expect(object["timestamp"] as? String != nil)
        #expect(object["message"] as? String == "using [REDACTED] now")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["api_key"] as? String == "[REDACTED]")
        #expect(metadata["count"] as? String == "3")
        #expect(!line.contains("s3cr3t"))
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("below the level"))
    }

    @Test func fileRotatesBySize() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-rot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("swiftlet.log").path
        let sink = try LogSink(settings: .init(level: .info, stdout: false, file: (path, 300, 2)))
        let logger = sink.makeLogger(label: "t")
        for index in 0..<20 { logger.info("line \(index) with some padding to fill the file quickly") }
        #expect(FileManager.default.fileExists(atPath: path + ".1"))
        #expect(FileManager.default.fileExists(atPath: path + ".2"))
        #expect(!FileManager.default.fileExists(atPath: path + ".3"))
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size <= 300)
    }
}
