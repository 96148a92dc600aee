import PluginAPI

/// The protocol between the gateway and an isolated plugin's `swiftlet plugin-host`: JSON-RPC 2.0 messages over
/// the child's standard input and output, each framed by its length as 4 bytes, big-endian.
///
/// The gateway asks `initialize` (once) and `invoke`, and notifies `cancel`. The plugin host asks `store.get`,
/// `store.set`, `store.remove` and `http.send`, and notifies `log`: what the sandbox keeps from the plugin is
/// done by the gateway, which checks the whitelist again.
enum PluginWire {
    /// A frame above this is a broken or hostile peer, not a message.
    static let maxFrameBytes = 64 << 20

    enum Method {
        static let initialize = "initialize"
        static let invoke = "invoke"
        static let cancel = "cancel"
        static let storeGet = "store.get"
        static let storeSet = "store.set"
        static let storeRemove = "store.remove"
        static let httpSend = "http.send"
        static let log = "log"
    }

    /// One message, as read.
    enum Message: Equatable {
        case request(id: Int, method: String, params: JSONValue)
        case notification(method: String, params: JSONValue)
        case response(id: Int, result: Result<JSONValue, RemoteError>)
    }

    static func request(id: Int, method: String, params: JSONValue) -> [UInt8] {
        frame(.object(["jsonrpc": .string("2.0"), "id": .number(Double(id)), "method": .string(method), "params": params]))
    }

    static func notification(method: String, params: JSONValue) -> [UInt8] {
        frame(.object(["jsonrpc": .string("2.0"), "method": .string(method), "params": params]))
    }

    static func response(id: Int, result: Result<JSONValue, RemoteError>) -> [UInt8] {
        switch result {
        case .success(let value): frame(.object(["jsonrpc": .string("2.0"), "id": .number(Double(id)), "result": value]))
        case .failure(let error): frame(.object(["jsonrpc": .string("2.0"), "id": .number(Double(id)), "error": error.json]))
        }
    }

    static func frame(_ message: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0, 0]
        message.write(to: &bytes)
        let length = UInt32(bytes.count - 4)
        bytes[0] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: length)
        return bytes
    }

    /// Interprets one decoded frame; anything that is not a JSON-RPC 2.0 message is a ``ProtocolError``.
    static func message(_ json: JSONValue) throws(ProtocolError) -> Message {
        guard case .object(let members) = json, members["jsonrpc"] == .string("2.0") else { throw ProtocolError("not a JSON-RPC 2.0 message") }
        let id = members["id"]?.intValue
        if let method = members["method"]?.stringValue {
            let params = members["params"] ?? .object([:])
            return id.map { .request(id: $0, method: method, params: params) } ?? .notification(method: method, params: params)
        }
        guard let id else { throw ProtocolError("a response without an id") }
        if let result = members["result"] { return .response(id: id, result: .success(result)) }
        guard let error = members["error"] else { throw ProtocolError("a response with neither result nor error") }
        return .response(id: id, result: .failure(RemoteError(error)))
    }

    struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String

        init(_ description: String) {
            self.description = description
        }
    }

    /// Splits a byte stream into frames, holding a partial one until the rest arrives.
    struct FrameReader {
        private var buffer: [UInt8] = []
        private var start = 0

        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            if start > 0, start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            buffer.append(contentsOf: bytes)
        }

        /// The next complete message, nil when more bytes are needed.
        mutating func next() throws(ProtocolError) -> JSONValue? {
            guard buffer.count - start >= 4 else { return nil }
            let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            guard length <= PluginWire.maxFrameBytes else { throw ProtocolError("a frame of \(length) bytes (the limit is \(PluginWire.maxFrameBytes))") }
            guard buffer.count - start - 4 >= length else { return nil }
            let body = Array(buffer[(start + 4)..<(start + 4 + length)])
            start += 4 + length
            if start > 1 << 16, start * 2 > buffer.count {
                buffer.removeFirst(start)
                start = 0
            }
            do {
                return try JSONValue(parsing: body)
            } catch {
                throw ProtocolError("a frame that is not JSON (\(error))")
            }
        }
    }

    /// A JSON-RPC error object, carrying what the plugin side threw so the gateway can tell the model the same.
    struct RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
        enum Kind: String, Sendable {
            /// A ``ToolFailure``: the message is for the model.
            case failure
            /// A ``PluginAccessDenied``.
            case denied
            /// Anything else the plugin threw.
            case error
            case cancelled
            /// A method or parameters the peer does not understand.
            case protocolError = "protocol"
        }

        var kind: Kind
        var message: String
        var permission: String?
        var subject: String?

        init(kind: Kind, message: String, permission: String? = nil, subject: String? = nil) {
            self.kind = kind
            self.message = message
            self.permission = permission
            self.subject = subject
        }

        init(_ json: JSONValue) {
            let data = json["data"]
            kind = data?["kind"]?.stringValue.flatMap(Kind.init(rawValue:)) ?? .error
            message = json["message"]?.stringValue ?? "an error without a message"
            permission = data?["permission"]?.stringValue
            subject = data?["subject"]?.stringValue
        }

        /// What the plugin side threw, as the error to send back.
        init(_ error: any Error) {
            switch error {
            case let failure as ToolFailure: self.init(kind: .failure, message: failure.message)
            case let denied as PluginAccessDenied: self.init(kind: .denied, message: denied.description, permission: denied.permission, subject: denied.subject)
            case let remote as RemoteError: self = remote
            case is CancellationError: self.init(kind: .cancelled, message: "cancelled")
            default: self.init(kind: .error, message: "\(error)")
            }
        }

        /// The error to rethrow on the receiving side, so `PluginTool`'s mapping applies unchanged.
        var thrown: any Error {
            switch kind {
            case .failure: ToolFailure(message)
            case .denied: PluginAccessDenied(permission: permission ?? "?", subject: subject ?? message)
            case .cancelled: CancellationError()
            case .error, .protocolError: self
            }
        }

        var json: JSONValue {
            let code: Double =
                switch kind {
                case .failure: -32000
                case .denied: -32001
                case .error: -32002
                case .cancelled: -32003
                case .protocolError: -32600
                }
            var data: [String: JSONValue] = ["kind": .string(kind.rawValue)]
            if let permission { data["permission"] = .string(permission) }
            if let subject { data["subject"] = .string(subject) }
            return .object(["code": .number(code), "message": .string(message), "data": .object(data)])
        }

        var description: String { message }
    }
}
