extension FakeJSON {
    /// Why a text is not JSON, and where the reading stopped.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Byte offset into the UTF-8 input.
        public let offset: Int
        public let reason: String

        public var description: String { "invalid JSON at byte \(self.offset): \(self.reason)" }
    }

    /// Parses JSON text (RFC 8259). Trailing non-space content is an error.
    public init(parsing text: String) throws(ParseError) {
        self = try Self.parse(utf8: Array(text.utf8))
    }

    /// Parses UTF-8 encoded JSON. Trailing non-space content is an error.
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        self = try Self.parse(utf8: Array(bytes))
    }

    private static func parse(utf8 bytes: [UInt8]) throws(ParseError) -> FakeJSON {
        var reader = FakeJSONReader(bytes: bytes)
        return try reader.readDocument()
    }
}

/// A recursive-descent reader over UTF-8 bytes.
///
/// Depth is bounded so that a hostile request body cannot exhaust the stack of a server task.
private struct FakeJSONReader {
    private static let maximumDepth = 256

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readDocument() throws(FakeJSON.ParseError) -> FakeJSON {
        let value = try self.readValue()
        self.skipWhitespace()
        guard self.position == self.bytes.count else { throw self.error("unexpected content after the value") }
        return value
    }

    private mutating func readValue() throws(FakeJSON.ParseError) -> FakeJSON {
        self.skipWhitespace()
        guard let byte = self.peek() else { throw self.error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try self.readObject()
        case UInt8(ascii: "["): return try self.readArray()
        case UInt8(ascii: "\""): return .string(try self.readString())
        case UInt8(ascii: "t"): return try self.readLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try self.readLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try self.readLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.readNumber()
        default: throw self.error("unexpected character '\(Character(Unicode.Scalar(byte)))'")
        }
    }

    private mutating func readObject() throws(FakeJSON.ParseError) -> FakeJSON {
        try self.enterContainer()
        defer { self.depth -= 1 }
        var members: [(String, FakeJSON)] = []
        self.skipWhitespace()
        if self.consume(UInt8(ascii: "}")) { return .object(FakeJSON.Object(members)) }
        while true {
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: "\"") else { throw self.error("expected a member name") }
            let key = try self.readString()
            self.skipWhitespace()
            guard self.consume(UInt8(ascii: ":")) else { throw self.error("expected ':'") }
            members.append((key, try self.readValue()))
            self.skipWhitespace()
            if self.consume(UInt8(ascii: ",")) { continue }
            if self.consume(UInt8(ascii: "}")) { return .object(FakeJSON.Object(members)) }
            throw self.error("expected ',' or '}'")
        }
    }

    private mutating func readArray() throws(FakeJSON.ParseError) -> FakeJSON {
        try self.enterContainer()
        defer { self.depth -= 1 }
        var elements: [FakeJSON] = []
        self.skipWhitespace()
        if self.consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            elements.append(try self.readValue())
            self.skipWhitespace()
            if self.consume(UInt8(ascii: ",")) { continue }
            if self.consume(UInt8(ascii: "]")) { return .array(elements) }
            throw self.error("expected ',' or ']'")
        }
    }

    private mutating func enterContainer() throws(FakeJSON.ParseError) {
        self.depth += 1
        guard self.depth <= Self.maximumDepth else { throw self.error("nested too deeply") }
        self.position += 1
    }

    private mutating func readString() throws(FakeJSON.ParseError) -> String {
        self.position += 1
        var output: [UInt8] = []
        while let byte = self.peek() {
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try self.readEscape(into: &output)
            case 0..<0x20:
                throw self.error("unescaped control character in string")
            default:
                output.append(byte)
            }
        }
        throw self.error("unterminated string")
    }

    private mutating func readEscape(into output: inout [UInt8]) throws(FakeJSON.ParseError) {
        guard let byte = self.peek() else { throw self.error("unterminated escape") }
        self.position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try self.readHex4())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate to form one scalar.
                guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")) else {
                    throw self.error("unpaired surrogate")
                }
                let low = UInt32(try self.readHex4())
                guard (0xDC00..<0xE000).contains(low) else { throw self.error("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw self.error("unpaired surrogate")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw self.error("invalid unicode escape") }
            output.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            throw self.error("invalid escape")
        }
    }

    private mutating func readHex4() throws(FakeJSON.ParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = self.peek() else { throw self.error("unterminated unicode escape") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.error("invalid unicode escape")
            }
            value = value << 4 | UInt16(digit)
            self.position += 1
        }
        return value
    }

    private mutating func readNumber() throws(FakeJSON.ParseError) -> FakeJSON {
        let start = self.position
        _ = self.consume(UInt8(ascii: "-"))
        if self.consume(UInt8(ascii: "0")) {
            // A leading zero stands alone: "01" is not JSON.
        } else if !self.consumeDigits() {
            throw self.error("expected a digit")
        }
        if self.consume(UInt8(ascii: ".")) {
            guard self.consumeDigits() else { throw self.error("expected a digit after '.'") }
        }
        if self.consume(UInt8(ascii: "e")) || self.consume(UInt8(ascii: "E")) {
            if !self.consume(UInt8(ascii: "+")) { _ = self.consume(UInt8(ascii: "-")) }
            guard self.consumeDigits() else { throw self.error("expected a digit in the exponent") }
        }
        let text = String(decoding: self.bytes[start..<self.position], as: UTF8.self)
        guard let value = Double(text) else { throw self.error("number out of range") }
        return .number(value)
    }

    private mutating func consumeDigits() -> Bool {
        let start = self.position
        while let byte = self.peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            self.position += 1
        }
        return self.position > start
    }

    private mutating func readLiteral(_ word: StaticString, _ value: FakeJSON) throws(FakeJSON.ParseError) -> FakeJSON {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard self.bytes.count - self.position >= expected.count,
            self.bytes[self.position..<(self.position + expected.count)].elementsEqual(expected)
        else { throw self.error("invalid literal") }
        self.position += expected.count
        return value
    }

    private mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            self.position += 1
        }
    }

    private func peek() -> UInt8? {
        self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else { return false }
        self.position += 1
        return true
    }

    private func error(_ reason: String) -> FakeJSON.ParseError {
        FakeJSON.ParseError(offset: self.position, reason: reason)
    }
}
