public import Foundation
public import Hummingbird

/// One request a fake platform received, as it arrived.
public struct FakePlatformCall: Sendable {
    /// The HTTP method.
    public var method: String
    public var path: String
    /// The headers, names in lower case.
    public var headers: [String: String]
    public var body: Data
    public var receivedAt: Date

    /// The body as a JSON object, if it is one.
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }

    /// The body's `application/x-www-form-urlencoded` fields (empty for another content type).
    public var form: [String: String] {
        guard headers["content-type"]?.hasPrefix("application/x-www-form-urlencoded") == true else { return [:] }
        return Self.formFields(String(decoding: body, as: UTF8.self))
    }

    public init(method: String, path: String, headers: [String: String], body: Data, receivedAt: Date = Date()) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    /// Reads a request whole (bodies up to 64 MB).
    public static func read(_ request: Request) async throws -> FakePlatformCall {
        let body = try await request.body.collect(upTo: 64 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        return FakePlatformCall(method: request.method.rawValue, path: request.uri.path, headers: headers, body: Data(body.readableBytesView))
    }

    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if let name = parts.first, fields[name] == nil { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    /// A JSON response.
    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Lower-case hex of some bytes.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
