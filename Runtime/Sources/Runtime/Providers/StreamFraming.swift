/// Splits a byte stream into lines (LF or CRLF), across chunk boundaries.
struct LineSplitter {
    /// A longer line is cut to this many bytes and ends in "…": a stream without newlines is never held whole.
    let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var cut = false

    init(maxLineBytes: Int = .max) {
        self.maxLineBytes = maxLineBytes
    }

    /// The complete lines in `bytes` plus what was pending, without their terminators.
    mutating func append(_ bytes: some BidirectionalCollection<UInt8>) -> [String] {
        var lines: [String] = []
        var start = bytes.startIndex
        // Whole lines are decoded straight from the chunk; only a line cut by the chunk's end is copied.
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = bytes[start..<newline]
            if pending.isEmpty, !cut {
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lines.append(line.count > maxLineBytes ? String(decoding: line.prefix(maxLineBytes), as: UTF8.self) + "…" : String(decoding: line, as: UTF8.self))
            } else {
                keep(line)
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                lines.append(String(decoding: pending, as: UTF8.self) + (cut ? "…" : ""))
                pending.removeAll(keepingCapacity: true)
                cut = false
            }
            start = bytes.index(after: newline)
        }
        keep(bytes[start...])
        return lines
    }

    private mutating func keep(_ bytes: some Collection<UInt8>) {
        let room = maxLineBytes - pending.count
        if bytes.count > room {
            pending.append(contentsOf: bytes.prefix(room))
            cut = true
        } else {
            pending.append(contentsOf: bytes)
        }
    }

    /// What is left after the stream ended without a final newline.
    mutating func finish() -> String? {
        defer {
            pending.removeAll()
            cut = false
        }
        return pending.isEmpty && !cut ? nil : String(decoding: pending, as: UTF8.self) + (cut ? "…" : "")
    }
}

/// One server-sent event: its `event:` name (`message` when absent) and its joined `data:` lines.
struct ServerSentEvent: Equatable {
    var event: String
    var data: String
}

/// Server-sent events framing (the WHATWG event-stream format) fed line by line.
struct ServerSentEventParser {
    private var event = ""
    private var data: [String] = []

    /// Feeds one line; returns an event when the line is the blank line that ends one.
    mutating func feed(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer {
                event = ""
                data.removeAll()
            }
            guard !data.isEmpty else { return nil }
            return ServerSentEvent(event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"))
        }
        if line.hasPrefix(":") { return nil }
        let field: Substring, value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            let rest = line[line.index(after: colon)...]
            value = rest.hasPrefix(" ") ? rest.dropFirst() : rest
        } else {
            field = line[...]
            value = ""
        }
        switch field {
        case "event": event = String(value)
        case "data": data.append(String(value))
        default: break
        }
        return nil
    }

    /// An event whose blank line never came (the stream ended right after it).
    mutating func finish() -> ServerSentEvent? { feed("") }
}
