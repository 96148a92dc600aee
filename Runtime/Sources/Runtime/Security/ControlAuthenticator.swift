public import Foundation
import JWTKit

/// Who is calling the control plane, established from a token.
public struct ControlPrincipal: Sendable, Equatable {
    public enum Kind: String, Sendable { case controlToken = "control_token", dashboardToken = "dashboard_token", session }

    public var kind: Kind
    /// Stable id for the audit log: the control token's id, or the signed token's subject and id.
    public var id: String
    public var expiresAt: Date?
}

/// Why a request was refused; each reason has its own message.
public enum ControlAuthFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case invalid
    case expired
    case revoked

    public var code: String {
        switch self {
        case .missing: "token_missing"
        case .invalid: "token_invalid"
        case .expired: "token_expired"
        case .revoked: "token_revoked"
        }
    }

    public var description: String {
        switch self {
        case .missing: "authentication required: send 'Authorization: Bearer <token>' or open the URL from `swiftlet dashboard --token-gen`"
        case .invalid: "the token is not valid for this gateway"
        case .expired: "the token has expired: issue a new one with `swiftlet dashboard --token-gen`"
        case .revoked: "the token has been revoked"
        }
    }
}

/// Signs and verifies the expiring HS256 tokens: dashboard URLs (scope `dashboard`) and browser
/// sessions (scope `session`). The CLI uses it alone, with the workspace key, to call the admin API.
public struct ControlTokenSigner: Sendable {
    public enum Scope: String, Sendable { case dashboard, session }

    private let keys: JWTKeyCollection

    public init(signingKey: String) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Data(signingKey.utf8)), digestAlgorithm: .sha256)
    }

    /// Issues a token for `subject` that expires after `lifetime`.
    public func issue(scope: Scope, subject: String, lifetime: Duration, now: Date = Date()) async throws -> (token: String, id: String, expiresAt: Date) {
        let id = UUID().uuidString.lowercased()
        let expiresAt = now.addingTimeInterval(TimeInterval(lifetime.components.seconds))
        let claims = ControlClaims(sub: .init(value: subject), jti: .init(value: id), iat: .init(value: now), exp: .init(value: expiresAt), scope: scope.rawValue)
        return (try await keys.sign(claims), id, expiresAt)
    }

    public func verify(_ token: String, now: Date = Date()) async throws(ControlAuthFailure) -> ControlPrincipal {
        let claims: ControlClaims
        do {
            claims = try await keys.verify(token, as: ControlClaims.self)
        } catch {
            throw .invalid
        }
        guard let scope = Scope(rawValue: claims.scope) else { throw .invalid }
        guard claims.exp.value > now else { throw .expired }
        return ControlPrincipal(kind: scope == .session ? .session : .dashboardToken, id: "\(claims.sub.value):\(claims.jti.value)", expiresAt: claims.exp.value)
    }
}

/// Claims of the signed tokens: dashboard tokens (`scope` "dashboard") and browser sessions ("session").
struct ControlClaims: JWTPayload {
    var sub: SubjectClaim
    var jti: IDClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var scope: String

    // Expiry is checked by the authenticator, which reports it separately from a bad signature.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies control-plane tokens and issues signed ones.
///
/// Two kinds of credential are accepted: the long-lived control token (looked up by hash in the store) and
/// HS256-signed tokens with an expiry (dashboard URLs, browser sessions), signed with the workspace key.
public actor ControlAuthenticator {
    public static let cookieName = "swiftlet_session"

    private let store: any GatewayStore
    public let signer: ControlTokenSigner
    private var lastUseRecorded: [String: Date] = [:]

    /// - Parameters:
    ///   - store: where control tokens are kept (hashed).
    ///   - signer: signs and verifies dashboard and session tokens.
    public init(store: any GatewayStore, signer: ControlTokenSigner) {
        self.store = store
        self.signer = signer
    }

    /// Creates the first control token when the store has none. Returns the token text, which is shown to
    /// the user once and never stored, or nil when a token already existed.
    public func bootstrapControlToken(now: Date = Date()) async throws -> String? {
        guard try await store.counts().controlTokens == 0 else { return nil }
        let token = ControlToken.generate()
        let record = ControlTokenRecord(id: UUID().uuidString.lowercased(), name: "initial", tokenHash: ControlToken.hash(token), createdAt: now)
        try await store.insertControlToken(record)
        try await store.appendAudit(AuditEvent(eventType: "control_token.created", userID: "system", payload: ["token_id": record.id, "name": record.name]))
        return token
    }

    /// Checks a token from a header, cookie or URL.
    public func authenticate(_ token: String?, now: Date = Date()) async throws(ControlAuthFailure) -> ControlPrincipal {
        guard let token, !token.isEmpty else { throw .missing }
        if ControlToken.looksLikeControlToken(token) {
            return try await authenticateControlToken(token, now: now)
        }
        return try await signer.verify(token, now: now)
    }

    private func authenticateControlToken(_ token: String, now: Date) async throws(ControlAuthFailure) -> ControlPrincipal {
        let record: ControlTokenRecord?
        do {
            record = try await store.controlToken(hash: ControlToken.hash(token))
        } catch {
            throw .invalid
        }
        guard let record else { throw .invalid }
        if record.revokedAt != nil { throw .revoked }
        if let expiry = record.expiresAt, expiry <= now { throw .expired }
        // Recording every use would turn each request into a write; once a minute per token is enough.
        if lastUseRecorded[record.id].map({ now.timeIntervalSince($0) > 60 }) ?? true {
            lastUseRecorded[record.id] = now
            try? await store.markControlTokenUsed(id: record.id, at: now)
        }
        return ControlPrincipal(kind: .controlToken, id: "control:\(record.id)", expiresAt: record.expiresAt)
    }
}
