public import Hummingbird
import Foundation

/// An error answered as JSON in the shape OpenAI's clients read: `{"error": {"code": "...", "message": "...",
/// "type": "invalid_request_error" | "server_error"}}` with the given status.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func unauthorized(_ failure: ControlAuthFailure) -> APIError {
        APIError(.unauthorized, code: failure.code, message: failure.description, headers: [.wwwAuthenticate: "Bearer realm=\"swiftlet\""])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(["error": ["code": code, "message": message, "type": status.code >= 500 ? "server_error" : "invalid_request_error"]]))))
    }
}

/// Small helpers for JSON bodies built from plain dictionaries.
enum JSONBody {
    static func encode(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func response(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        response(bytes: encode(object), status: status)
    }

    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        response(bytes: Data(value.jsonText.utf8), status: status)
    }

    /// Encodable values with sorted keys and ISO 8601 dates to the millisecond in UTC, zone included
    /// (`2026-12-06T10:00:00.123Z`): a trace timeline computes offsets from them, and a time without a zone does not
    /// parse as ISO 8601.
    static func response(encoding value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = .sortedKeys
        return response(bytes: (try? encoder.encode(value)) ?? Data("{}".utf8), status: status)
    }

    private static func response(bytes: Data, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
