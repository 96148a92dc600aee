import Foundation
import PluginAPI

/// Calls to the WhatsApp Business Cloud API (Meta's Graph API) with the access token, and what their failures
/// mean for the outbox.
///
/// Errors come as `{"error": {"message", "type", "code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}`
/// with an HTTP 4xx or 5xx status.
struct WhatsAppGraphAPI: Sendable {
    /// A failed call: the Graph error code when there was one, and the failure as the outbox sees it.
    struct CallError: Error, Sendable, CustomStringConvertible {
        var code: Int?
        var failure: ChannelSendFailure

        var description: String { failure.message }
    }

    /// Error 131047: the customer last wrote more than 24 hours ago, so only a template message may reach them.
    static let windowClosedCode = 131047
    /// Throttling: app (4), account (80007), pair rate (131056), spam rate (131048) and Cloud API throughput (130429).
    static let throttleCodes: Set<Int> = [4, 80007, 130429, 131048, 131056]
    /// Meta's side failing for now: unknown (1), service unavailable (2, 131016), something went wrong (131000).
    static let transientCodes: Set<Int> = [1, 2, 131000, 131016]
    /// Wait after throttling when Meta gives no Retry-After.
    static let defaultRetryAfter = 60.0

    let settings: WhatsAppSettings
    let token: String
    let http: any PluginHTTPClient

    /// POSTs a message object to `<phone_number_id>/messages`; the sent message's id (wamid). Throws ``CallError``.
    func sendMessage(_ message: [String: Any]) async throws -> String? {
        let body = try JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])
        let answer = try await call(
            PluginHTTPRequest(
                method: "POST", url: "\(settings.baseURL)/\(settings.phoneNumberID)/messages",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: body))
        return ((answer["messages"] as? [[String: Any]])?.first?["id"] as? String)
    }

    /// Uploads a file to `<phone_number_id>/media`; the media id to send it by. Throws ``CallError``.
    func uploadMedia(_ data: Data, fileName: String, mimeType: String) async throws -> String {
        let form = MultipartForm(fields: [("messaging_product", "whatsapp"), ("type", mimeType)], file: (name: "file", fileName: fileName, mimeType: mimeType, data: data))
        let answer = try await call(
            PluginHTTPRequest(
                method: "POST", url: "\(settings.baseURL)/\(settings.phoneNumberID)/media",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", form.contentType)], body: form.body, timeoutSeconds: 120))
        guard let id = answer["id"] as? String else {
            throw CallError(code: nil, failure: ChannelSendFailure("WhatsApp media upload answered without an id", retryable: true))
        }
        return id
    }

    /// Looks up a received media object: where to download it (the URL lives five minutes), its type and size.
    func mediaInfo(_ id: String) async throws -> (url: String, mimeType: String?, size: Int?) {
        let answer = try await call(PluginHTTPRequest(method: "GET", url: "\(settings.baseURL)/\(id)", headers: [("Authorization", "Bearer \(token)")]))
        guard let url = answer["url"] as? String else { throw CallError(code: nil, failure: ChannelSendFailure("the media lookup answered without a url")) }
        let size = (answer["file_size"] as? NSNumber)?.intValue ?? (answer["file_size"] as? String).flatMap { Int($0) }
        return (url, answer["mime_type"] as? String, size)
    }

    private func call(_ request: PluginHTTPRequest) async throws -> [String: Any] {
        let response: PluginHTTPResponse
        do {
            response = try await http.send(request, delivering: "WhatsApp")
        } catch {
            throw CallError(code: nil, failure: error)
        }
        if let failure = Self.failure(status: response.status, retryAfter: response.header("Retry-After"), body: response.body) { throw failure }
        guard let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] else {
            throw CallError(code: nil, failure: ChannelSendFailure("WhatsApp answered something that is not JSON"))
        }
        return object
    }

    /// What an answer means when it is not a success (nil for 2xx).
    static func failure(status: Int, retryAfter: String?, body: Data) -> CallError? {
        guard !(200..<300).contains(status) else { return nil }
        let error = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["error"] as? [String: Any]
        let code = (error?["code"] as? NSNumber)?.intValue
        let details = ((error?["error_data"] as? [String: Any])?["details"] as? String) ?? (error?["message"] as? String) ?? "HTTP \(status)"
        let said = "WhatsApp refused the message (\(code.map { "error \($0)" } ?? "HTTP \(status)")): \(details)"
        let wait = retryAfter.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? defaultRetryAfter
        switch code {
        case .some(Self.windowClosedCode):
            return CallError(
                code: code,
                failure: ChannelSendFailure(
                    "WhatsApp refused the message (error 131047): the 24-hour customer-service window has closed, because the customer last wrote more than 24 hours ago. Only an approved template message can reach them until they write again.",
                    retryable: false))
        case let code? where throttleCodes.contains(code):
            return CallError(code: code, failure: ChannelSendFailure(said, retryable: true, retryAfterSeconds: wait))
        case _ where status == 429:
            return CallError(code: code, failure: ChannelSendFailure(said, retryable: true, retryAfterSeconds: wait))
        case .some(190):
            return CallError(code: code, failure: ChannelSendFailure(said + " (check the secret whatsapp_access_token)", retryable: false))
        case let code? where transientCodes.contains(code):
            return CallError(code: code, failure: ChannelSendFailure(said, retryable: true))
        case _ where status >= 500:
            return CallError(code: code, failure: ChannelSendFailure(said, retryable: true))
        default:
            return CallError(code: code, failure: ChannelSendFailure(said, retryable: false))
        }
    }
}
