import Foundation
import PluginAPI

/// Calls to Slack's Web API (`POST <base_url>/<method>` with the bot token), and what their failures mean for
/// the outbox.
///
/// Slack answers most errors with HTTP 200 and `{"ok": false, "error": "..."}`; rate limits with HTTP 429 and a
/// `Retry-After` header (seconds).
struct SlackWebAPI: Sendable {
    /// A failed call: Slack's error code when it gave one, and the failure as the outbox sees it.
    struct CallError: Error, Sendable, CustomStringConvertible {
        var code: String?
        var failure: ChannelSendFailure

        var description: String { failure.message }
    }

    /// Errors that can pass; every other error code means the request cannot succeed as it is.
    static let transientErrors: Set<String> = ["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"]
    /// Errors that mean the token is wrong, said so plainly.
    static let credentialErrors: Set<String> = ["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"]
    /// Wait when a 429 carries no Retry-After.
    static let defaultRetryAfter = 30.0

    let baseURL: String
    let token: String
    let http: any PluginHTTPClient
    /// The secret `token` came from, named when Slack refuses it.
    var tokenSecret = "slack_bot_token"

    /// A method that takes a JSON body (chat.postMessage, chat.update, auth.test). Throws ``CallError``.
    func call(_ method: String, json: [String: Any]) async throws -> [String: Any] {
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        } catch {
            throw CallError(code: nil, failure: ChannelSendFailure("Slack \(method): the request could not be encoded (\(error))", retryable: false))
        }
        return try await send(method, body: body, contentType: "application/json; charset=utf-8")
    }

    /// A method that takes form fields (the files.* upload methods accept only these).
    func call(_ method: String, form: [(String, String)]) async throws -> [String: Any] {
        try await send(method, body: Data(Self.formEncoded(form).utf8), contentType: "application/x-www-form-urlencoded")
    }

    private func send(_ method: String, body: Data, contentType: String) async throws -> [String: Any] {
        let request = PluginHTTPRequest(
            method: "POST", url: "\(baseURL)/\(method)", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", contentType)], body: body)
        let response = try await Self.perform(request, what: "Slack \(method)", http: http)
        return try Self.decode(method: method, status: response.status, retryAfter: response.header("Retry-After"), body: response.body, tokenSecret: tokenSecret)
    }

    /// Sends a request; a transport failure is retryable, a refusal by the entry's permissions is not.
    static func perform(_ request: PluginHTTPRequest, what: String, http: any PluginHTTPClient) async throws -> PluginHTTPResponse {
        do {
            return try await http.send(request, delivering: what)
        } catch {
            throw CallError(code: nil, failure: error)
        }
    }

    /// The answer's JSON object when it says `ok`, otherwise the failure it means.
    static func decode(method: String, status: Int, retryAfter: String?, body: Data, tokenSecret: String) throws -> [String: Any] {
        if status == 429 {
            let wait = retryAfter.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? defaultRetryAfter
            throw CallError(code: "ratelimited", failure: ChannelSendFailure("Slack \(method) is rate limited (HTTP 429)", retryable: true, retryAfterSeconds: wait))
        }
        if status >= 500 { throw CallError(code: nil, failure: ChannelSendFailure("Slack \(method) answered HTTP \(status)", retryable: true)) }
        guard (200..<300).contains(status) else {
            throw CallError(code: nil, failure: ChannelSendFailure("Slack \(method) answered HTTP \(status) (check config.base_url)", retryable: false))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw CallError(code: nil, failure: ChannelSendFailure("Slack \(method) answered something that is not JSON", retryable: true))
        }
        if object["ok"] as? Bool == true { return object }
        let code = object["error"] as? String ?? "unknown_error"
        var message = "Slack \(method) failed: \(code)"
        if credentialErrors.contains(code) {
            message += " (check the secret \(tokenSecret))"
        } else if code == "not_allowed_token_type" {
            message += " (\(tokenSecret) holds the wrong kind of token: slack_bot_token takes the bot token xoxb-…, slack_app_token the app-level token xapp-…)"
        } else if code == "not_in_channel" {
            message += " (invite the bot to the channel)"
        } else if code == "missing_scope", let needed = object["needed"] as? String {
            message += " (the app needs the scope \(needed))"
        }
        if code == "ratelimited" {
            throw CallError(code: code, failure: ChannelSendFailure(message, retryable: true, retryAfterSeconds: retryAfter.flatMap(Double.init) ?? defaultRetryAfter))
        }
        throw CallError(code: code, failure: ChannelSendFailure(message, retryable: transientErrors.contains(code)))
    }

    static func formEncoded(_ fields: [(String, String)]) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return fields.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
