import Foundation

/// The control WebSocket `/ws` over a ``RawConnection``: the upgrade written by hand, then frames as bytes,
/// so a test decides masking and every payload byte.
struct RawControlSocket: Sendable {
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    let connection: RawConnection
    /// Where the server's frames start in the bytes received: right after the 101 head.
    let framesStart: Int

    static let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    /// Upgrades `/ws?session=...` with the gateway's control token. `pipelined` is written together with the
    /// upgrade request, before the 101 arrives; a client may do that, and those bytes must meet the same checks.
    static func open(_ gateway: TestGateway, session: String = "raw", pipelined: [UInt8] = []) async throws -> RawControlSocket {
        let connection = try await RawConnection.open(port: gateway.port)
        let request =
            "GET /ws?session=\(session) HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(gateway.controlToken)\r\n\r\n"
        try await connection.send(Array(request.utf8) + pipelined)
        guard let head = await connection.nextResponse(within: .seconds(20)), head.status == 101 else {
            throw Refused(description: "no 101 for the upgrade: \(await connection.receivedText())")
        }
        guard let (_, headLength) = RawHTTPResponse.parse(ArraySlice(await connection.received())) else {
            throw Refused(description: "the 101 head cannot be parsed again")
        }
        return RawControlSocket(connection: connection, framesStart: headLength)
    }

    /// Opens the socket and waits for its `hello` event; returns the socket and the session's id.
    static func openReady(_ gateway: TestGateway, session: String = "raw") async throws -> (RawControlSocket, sessionID: String) {
        let socket = try await open(gateway, session: session)
        guard await socket.waitForText(within: .seconds(20), until: { $0.contains(#""event":"hello""#) }) else {
            throw Refused(description: "no hello event: \(await socket.frames())")
        }
        let hello = await socket.texts().first { $0.contains(#""event":"hello""#) } ?? ""
        let data = (try? JSONSerialization.jsonObject(with: Data(hello.utf8)) as? [String: Any])?["data"] as? [String: Any]
        return (socket, data?["session_id"] as? String ?? "")
    }

    func send(_ frame: RawWebSocketFrame, masked: Bool = true) async throws {
        try await connection.send(frame.encoded(mask: masked ? Self.mask : nil))
    }

    func send(text: String, masked: Bool = true) async throws {
        try await send(RawWebSocketFrame(opcode: .text, payload: Array(text.utf8)), masked: masked)
    }

    func frames() async -> [RawWebSocketFrame] {
        RawWebSocketFrame.parseAll(await connection.received().dropFirst(framesStart))
    }

    func texts() async -> [String] {
        await frames().filter { $0.opcode == .text }.map { String(decoding: $0.payload, as: UTF8.self) }
    }

    /// True once a text frame satisfies `predicate`, false if `timeout` passes or the connection closes first.
    func waitForText(within timeout: Duration, until predicate: @escaping @Sendable (String) -> Bool) async -> Bool {
        let start = framesStart
        return await connection.waitForReceived(within: timeout) { bytes in
            RawWebSocketFrame.parseAll(bytes.dropFirst(start)).contains { frame in
                frame.opcode == .text && predicate(String(decoding: frame.payload, as: UTF8.self))
            }
        }
    }

    /// The code of the server's close frame, once one arrives within `timeout`; then answers it as a client
    /// must (RFC 6455 §5.5.1), so the server can end the connection without waiting for its close timeout.
    func closeCode(within timeout: Duration) async throws -> UInt16? {
        let start = framesStart
        let closeArrived = await connection.waitForReceived(within: timeout) { bytes in
            RawWebSocketFrame.parseAll(bytes.dropFirst(start)).contains { $0.opcode == .close }
        }
        guard closeArrived else { return nil }
        let close = await frames().first { $0.opcode == .close }
        try? await send(RawWebSocketFrame(opcode: .close, payload: close?.payload ?? []))
        return close?.closeCode
    }
}
