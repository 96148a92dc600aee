import Hummingbird
import Foundation

/// Requires a valid control-plane token (Bearer header or session cookie) and records the principal.
/// Refusals answer 401 with a JSON error and are written to the audit log.
struct ControlAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let state: GatewayState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.principal = try await state.authenticate(request, context: context)
        return try await next(request, context)
    }
}

extension GatewayState {
    /// The token a request carries: `Authorization: Bearer` first, then the session cookie.
    static func presentedToken(_ request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return parts[1].trimmingCharacters(in: .whitespaces) }
            return header  // another scheme (Basic...) is a wrong credential, not a missing one
        }
        return request.cookies[ControlAuthenticator.cookieName]?.value
    }

    /// Authenticates a request or throws the 401 to answer; refusals are audited.
    func authenticate(_ request: Request, context: GatewayRequestContext) async throws -> ControlPrincipal {
        if config.gateway.auth == .none {
            return ControlPrincipal(kind: .controlToken, id: "anonymous-loopback", expiresAt: nil)
        }
        do {
            return try await authenticator.authenticate(Self.presentedToken(request))
        } catch {
            await audit(
                AuditEvent(
                    eventType: "auth.denied", ipAddress: context.clientIP, userAgent: request.headers[.userAgent],
                    payload: ["reason": error.code, "path": request.uri.path, "method": request.method.rawValue]))
            throw APIError.unauthorized(error)
        }
    }

    /// Audits an authenticated admin action.
    func auditAdmin(_ action: String, request: Request, context: GatewayRequestContext, payload: [String: String] = [:]) async {
        var details = payload
        details["path"] = request.uri.path
        details["method"] = request.method.rawValue
        await audit(
            AuditEvent(eventType: action, userID: context.principal?.id, ipAddress: context.clientIP, userAgent: request.headers[.userAgent], payload: details))
    }
}
