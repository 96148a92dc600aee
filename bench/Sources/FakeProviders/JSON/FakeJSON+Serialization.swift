extension FakeJSON {
    /// Compact JSON text, members in insertion order, as the real APIs send it on the wire.
    ///
    /// Integral numbers are written without a fraction (`3`, not `3.0`) because clients decode
    /// token counts and indexes as integers; non-finite numbers, which JSON cannot carry, become `null`.
    public var jsonText: String {
        var output = ""
        self.write(to: &output)
        return output
    }

    func write(to output: inout String) {
        switch self {
        case .null:
            output += "null"
        case .bool(let value):
            output += value ? "true" : "false"
        case .number(let value):
            Self.writeNumber(value, to: &output)
        case .string(let value):
            Self.writeString(value, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            for (index, member) in object.enumerated() {
                if index > 0 { output += "," }
                Self.writeString(member.key, to: &output)
                output += ":"
                member.value.write(to: &output)
            }
            output += "}"
        }
    }

    private static func writeNumber(_ value: Double, to output: inout String) {
        guard value.isFinite else {
            output += "null"
            return
        }
        if value.rounded(.towardZero) == value, abs(value) < 1e15 {
            output += String(Int64(value))
        } else {
            output += String(value)
        }
    }

    private static func writeString(_ value: String, to output: inout String) {
        output += "\""
        // Copy runs of characters that need no escape in one append: per-character appends
        // dominated the cost of answering a streamed request.
        let utf8 = value.utf8
        var runStart = utf8.startIndex
        var index = runStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                output += value[runStart..<index]
                output += Self.escape(byte)
                runStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        output += value[runStart..<utf8.endIndex]
        output += "\""
    }

    private static func escape(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "\""): return "\\\""
        case UInt8(ascii: "\\"): return "\\\\"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x08: return "\\b"
        case 0x0C: return "\\f"
        default:
            let hex = String(byte, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
}
