import Foundation
import Testing

@testable import Runtime

/// RFC 6455 rules on the gateway's WebSocket, checked with hand-made frames: text must be UTF-8 (else 1007)
/// and a client must mask every frame (else 1002); a refused frame is never processed.
@Suite(.serialized) struct WebSocketFrameRulesTests {
    static func chatSend(id: String, text: [UInt8]) -> [UInt8] {
        Array(#"{"v":1,"type":"req","id":""#.utf8) + Array(id.utf8) + Array(#"","method":"chat.send","params":{"text":""#.utf8) + text
            + Array(#""}}"#.utf8)
    }

    /// What the gateway keeps of a session: its journal's waiting messages and its transcript (a message is in one
    /// or the other from its acknowledgement on; read in this order, one that moves between them is not missed).
    static func stored(_ gateway: TestGateway, sessionID: String) async throws -> [String] {
        let waiting = try await gateway.state.store.pendingJournal(sessionID: sessionID).map(\.text)
        return waiting + (try await gateway.state.store.messages(sessionID: sessionID, limit: 50).map(\.content))
    }

    @Test func maskedFramesAreServedAndATextSplitInsideACharacterIsOneValidMessage() async throws {
        let gateway = try await TestGateway.start()
        let (socket, sessionID) = try await RawControlSocket.openReady(gateway)
        // "é" is C3 A9: the first fragment ends inside the character, which only the whole message completes.
        let message = Self.chatSend(id: "split", text: Array("café".utf8))
        let cut = message.firstIndex(of: 0xA9)!
        try await socket.send(RawWebSocketFrame(fin: false, opcode: .text, payload: Array(message[..<cut])))
        try await socket.send(RawWebSocketFrame(fin: true, opcode: .continuation, payload: Array(message[cut...])))
        #expect(await socket.waitForText(within: .seconds(20)) { $0.contains(#""id":"split""#) && $0.contains(#""ok":true"#) })
        #expect(try await Self.stored(gateway, sessionID: sessionID).contains("café"))
        await socket.connection.close()
        try await gateway.stop()
    }

    @Test func textFrameThatIsNotUTF8ClosesWith1007AndIsNotStored() async throws {
        let gateway = try await TestGateway.start()
        let (socket, sessionID) = try await RawControlSocket.openReady(gateway)
        // C3 28: a lead byte followed by a byte that cannot continue it.
        try await socket.send(RawWebSocketFrame(opcode: .text, payload: Self.chatSend(id: "bad", text: Array("caf".utf8) + [0xC3, 0x28])))
        let code = try await socket.closeCode(within: .seconds(20))
        let frames = await socket.frames()
        #expect(code == 1007, "\(frames)")
        #expect(await socket.connection.waitUntilClosed(within: .seconds(20)))
        #expect(!(await socket.texts().contains { $0.contains(#""id":"bad""#) }), "the request was not answered")
        #expect(try await Self.stored(gateway, sessionID: sessionID).isEmpty, "nothing was stored")
        await socket.connection.close()
        try await gateway.stop()
    }

    @Test func fragmentedTextMessageThatIsNotUTF8ClosesWith1007AndIsNotStored() async throws {
        let gateway = try await TestGateway.start()
        let (socket, sessionID) = try await RawControlSocket.openReady(gateway)
        let message = Self.chatSend(id: "bad-fragments", text: Array("ab".utf8) + [0xFF] + Array("cd".utf8))
        let cut = message.firstIndex(of: 0xFF)!
        try await socket.send(RawWebSocketFrame(fin: false, opcode: .text, payload: Array(message[..<cut])))
        try await socket.send(RawWebSocketFrame(fin: true, opcode: .continuation, payload: Array(message[cut...])))
        let code = try await socket.closeCode(within: .seconds(20))
        let frames = await socket.frames()
        #expect(code == 1007, "\(frames)")
        #expect(await socket.connection.waitUntilClosed(within: .seconds(20)))
        #expect(try await Self.stored(gateway, sessionID: sessionID).isEmpty, "nothing was stored")
        await socket.connection.close()
        try await gateway.stop()
    }

    @Test func unmaskedClientFrameClosesWith1002AndIsNotProcessed() async throws {
        let gateway = try await TestGateway.start()
        let (socket, sessionID) = try await RawControlSocket.openReady(gateway)
        try await socket.send(text: String(decoding: Self.chatSend(id: "unmasked", text: Array("hello".utf8)), as: UTF8.self), masked: false)
        #expect(try await socket.closeCode(within: .seconds(20)) == 1002)
        #expect(await socket.connection.waitUntilClosed(within: .seconds(20)))
        #expect(!(await socket.texts().contains { $0.contains(#""id":"unmasked""#) }), "the request was not answered")
        #expect(try await Self.stored(gateway, sessionID: sessionID).isEmpty, "nothing was stored")
        await socket.connection.close()
        try await gateway.stop()
    }

    @Test func unmaskedFrameSentWithTheUpgradeRequestIsAlsoRefused() async throws {
        let gateway = try await TestGateway.start()
        let frame = RawWebSocketFrame(opcode: .text, payload: Array(#"{"v":1,"type":"req","id":"early","method":"ping"}"#.utf8))
        let socket = try await RawControlSocket.open(gateway, pipelined: frame.encoded(mask: nil))
        #expect(try await socket.closeCode(within: .seconds(20)) == 1002)
        #expect(await socket.connection.waitUntilClosed(within: .seconds(20)))
        #expect(!(await socket.texts().contains { $0.contains(#""id":"early""#) }), "the ping was not answered")
        await socket.connection.close()
        try await gateway.stop()
    }
}
