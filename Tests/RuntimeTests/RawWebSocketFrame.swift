/// WebSocket frames as bytes, for tests that must control masking and payload bytes exactly (RFC 6455 §5.2).
struct RawWebSocketFrame: Sendable, Equatable {
    enum Opcode: UInt8, Sendable {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    }

    var fin = true
    var opcode: Opcode
    var payload: [UInt8]

    /// The close code of a close frame, if it carries one.
    var closeCode: UInt16? {
        guard opcode == .close, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }

    /// The frame as a client sends it: masked with `mask`, or unmasked (which a server must refuse) when nil.
    func encoded(mask: [UInt8]?) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        switch payload.count {
        case ..<126:
            bytes.append(maskBit | UInt8(payload.count))
        case ..<65_536:
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard let mask else { return bytes + payload }
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    /// The unmasked frames a server sent, in order, from the start of `bytes`; a trailing partial frame is left out.
    static func parseAll(_ bytes: ArraySlice<UInt8>) -> [RawWebSocketFrame] {
        var frames: [RawWebSocketFrame] = []
        var index = bytes.startIndex
        while bytes.endIndex - index >= 2 {
            let first = bytes[index]
            var length = Int(bytes[index + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard bytes.endIndex - index >= 4 else { break }
                length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
                header = 4
            } else if length == 127 {
                guard bytes.endIndex - index >= 10 else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[index + 2 + $1]) }
                header = 10
            }
            guard bytes.endIndex - index >= header + length, let opcode = Opcode(rawValue: first & 0x0F) else { break }
            let payload = Array(bytes[(index + header)..<(index + header + length)])
            frames.append(RawWebSocketFrame(fin: first & 0x80 != 0, opcode: opcode, payload: payload))
            index += header + length
        }
        return frames
    }
}
