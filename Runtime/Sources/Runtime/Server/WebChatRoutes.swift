import Foundation
import Hummingbird
import HTTPTypes

extension GatewayRouter {
    /// `/` serves the web chat to an authenticated browser. A `?token=` in the URL is exchanged for an
    /// HttpOnly, SameSite=Strict session cookie and the browser is redirected to `/`, so the token leaves the
    /// address bar and the history. Without a valid cookie the page asks for a token (401).
    static func addWebChatRoutes(to router: Router<GatewayRequestContext>, state: GatewayState) {
        router.get("/") { request, context in
            guard state.config.webchat.enabled else {
                return htmlResponse(WebChatPage.message(title: "Web chat disabled", text: "Set channels.webchat.enabled: true to use it."), status: .notFound)
            }
            if let token = request.uri.queryParameters.get("token") {
                return try await exchange(token: token, request: request, context: context, state: state)
            }
            do {
                _ = try await state.authenticate(request, context: context)
            } catch let error as APIError {
                return htmlResponse(WebChatPage.login(error: Self.presentedCookie(request) == nil ? nil : error.message), status: .unauthorized)
            }
            return htmlResponse(WebChatPage.chat, status: .ok)
        }
        router.get("assets/chat.js") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: WebChatPage.script)))
        }
    }

    private static func presentedCookie(_ request: Request) -> String? {
        request.cookies[ControlAuthenticator.cookieName]?.value
    }

    private static func exchange(token: String, request: Request, context: GatewayRequestContext, state: GatewayState) async throws -> Response {
        let principal: ControlPrincipal
        do {
            principal = try await state.authenticator.authenticate(token)
        } catch {
            await state.audit(
                AuditEvent(eventType: "auth.denied", ipAddress: context.clientIP, userAgent: request.headers[.userAgent], payload: ["reason": error.code, "path": "/", "method": "GET"]))
            return htmlResponse(WebChatPage.login(error: error.description), status: .unauthorized)
        }
        let config = state.config.control
        var lifetime = config.sessionTTL
        if let expiry = principal.expiresAt {
            lifetime = min(lifetime, .seconds(max(1, Int64(expiry.timeIntervalSinceNow))))
        }
        let session = try await state.authenticator.signer.issue(scope: .session, subject: principal.id, lifetime: lifetime)
        await state.audit(
            AuditEvent(
                eventType: "auth.cookie_exchange", userID: principal.id, ipAddress: context.clientIP, userAgent: request.headers[.userAgent],
                payload: ["session_id": session.id, "expires_at": session.expiresAt.formatted(.iso8601)]))
        let secure = state.config.gateway.publicURL.hasPrefix("https://")
        var response = Response(status: .seeOther, headers: [.location: "/", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer"])
        response.setCookie(
            Cookie(name: ControlAuthenticator.cookieName, value: session.token, maxAge: Int(lifetime.components.seconds), path: "/", secure: secure, httpOnly: true, sameSite: .strict))
        return response
    }

    static func htmlResponse(_ html: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
                HTTPField.Name("Referrer-Policy")!: "no-referrer",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
