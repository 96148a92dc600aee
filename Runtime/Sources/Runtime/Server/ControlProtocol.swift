import Foundation

/// The control WebSocket protocol, version 1: JSON text frames.
///
/// Client to server, a request:
/// `{"v":1,"type":"req","id":"c1","method":"chat.send","params":{"text":"hello"}}`
///
/// Server to client, the response to a request (same `id`), success or error:
/// `{"v":1,"type":"res","id":"c1","ok":true,"result":{...}}`
/// `{"v":1,"type":"res","id":"c1","ok":false,"error":{"code":"unknown_method","message":"..."}}`
///
/// and events, numbered by `seq` from 1 on each connection with no gaps, so a client can tell it missed one:
/// `{"v":1,"type":"event","event":"chat.message","seq":2,"data":{...}}`
///
/// Parsing and encoding are pure; ``ControlSocket`` does the I/O.
public enum ControlProtocol {
    public static let version = 1

    public enum Method: String, Sendable, CaseIterable {
        case ping
        case chatSend = "chat.send"
        case chatHistory = "chat.history"
    }

    public struct Request: Sendable, Equatable {
        public var id: String
        public var method: Method
        public var params: [String: JSONValue]
    }

    /// A request that cannot be served, with the id to answer it under when one could be read.
    public struct Failure: Error, Sendable, Equatable {
        public var id: String?
        public var code: String
        public var message: String
    }

    private struct Envelope: Decodable {
        var v: JSONValue?
        var type: JSONValue?
        var id: JSONValue?
        var method: JSONValue?
        var params: JSONValue?
    }

    /// Parses one text frame into a request.
    public static func parse(_ text: String) -> Result<Request, Failure> {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(text.utf8))
        } catch {
            return .failure(Failure(id: nil, code: "invalid_json", message: "the frame is not a JSON object"))
        }
        let id = envelope.id?.stringValue
        guard let version = envelope.v?.intValue else {
            return .failure(Failure(id: id, code: "invalid_frame", message: "missing protocol version: add \"v\": \(version)"))
        }
        guard version == Self.version else {
            return .failure(Failure(id: id, code: "unsupported_version", message: "protocol version \(version) is not supported; this gateway speaks v\(Self.version)"))
        }
        guard let type = envelope.type?.stringValue else {
            return .failure(Failure(id: id, code: "invalid_frame", message: "missing \"type\" (clients send \"req\")"))
        }
        guard type == "req" else {
            return .failure(Failure(id: id, code: "unknown_type", message: "unknown frame type '\(type)'; clients send \"req\""))
        }
        guard let id, !id.isEmpty, id.count <= 128 else {
            return .failure(Failure(id: nil, code: "invalid_frame", message: "a request needs a string \"id\" of 1 to 128 characters"))
        }
        guard let name = envelope.method?.stringValue else {
            return .failure(Failure(id: id, code: "invalid_frame", message: "missing \"method\""))
        }
        guard let method = Method(rawValue: name) else {
            let known = Method.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(Failure(id: id, code: "unknown_method", message: "unknown method '\(name)'; known: \(known)"))
        }
        switch envelope.params {
        case nil, .null?:
            return .success(Request(id: id, method: method, params: [:]))
        case .object(let params)?:
            return .success(Request(id: id, method: method, params: params))
        default:
            return .failure(Failure(id: id, code: "invalid_params", message: "\"params\" must be an object"))
        }
    }

    public static func response(id: String, result: JSONValue) -> String {
        encode(["v": .number(Double(version)), "type": .string("res"), "id": .string(id), "ok": .bool(true), "result": result])
    }

    public static func error(_ failure: Failure) -> String {
        encode([
            "v": .number(Double(version)), "type": .string("res"), "id": failure.id.map(JSONValue.string) ?? .null, "ok": .bool(false),
            "error": .object(["code": .string(failure.code), "message": .string(failure.message)]),
        ])
    }

    public static func event(_ name: String, seq: Int, data: JSONValue) -> String {
        encode(["v": .number(Double(version)), "type": .string("event"), "event": .string(name), "seq": .number(Double(seq)), "data": data])
    }

    private static func encode(_ object: [String: JSONValue]) -> String {
        JSONValue.object(object).jsonText
    }
}
