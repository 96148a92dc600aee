/// One frame of a streamed answer, with its place in the stream.
///
/// The place decides what a cut-short stream keeps: opening frames are always sent, chunks are
/// counted, closing frames are what a truncated stream lacks.
struct FakeFrame: Sendable, Equatable {
    enum Place: Sendable, Equatable {
        /// Sent before the first chunk whatever happens (role chunk, `message_start`, …).
        case opening
        /// A content delta: text or tool-argument fragment.
        case chunk
        /// Bookkeeping between chunks (`content_block_stop`, a later tool call's header).
        case between
        /// Ends the answer (finish reason, usage, `[DONE]`, `message_stop`, `"done":true`).
        case closing
    }

    var place: Place
    var text: String

    /// A Server-Sent Events frame without an event name: `data: {json}`.
    static func data(_ json: FakeJSON, _ place: Place) -> FakeFrame {
        FakeFrame(place: place, text: "data: " + json.jsonText + "\n\n")
    }

    /// A named Server-Sent Events frame: `event: name` then `data: {json}`.
    static func event(_ name: String, _ json: FakeJSON, _ place: Place) -> FakeFrame {
        FakeFrame(place: place, text: "event: " + name + "\ndata: " + json.jsonText + "\n\n")
    }

    /// One newline-delimited JSON line.
    static func line(_ json: FakeJSON, _ place: Place) -> FakeFrame {
        FakeFrame(place: place, text: json.jsonText + "\n")
    }

    /// The frames a stream cut after `chunks` chunks sends: the opening frames, then everything up to
    /// and including the last allowed chunk, never a closing frame.
    static func prefix(of frames: [FakeFrame], chunks: Int) -> [FakeFrame] {
        var kept: [FakeFrame] = []
        var sent = 0
        for frame in frames {
            switch frame.place {
            case .opening:
                kept.append(frame)
            case .closing:
                return kept
            case .chunk, .between:
                if sent >= chunks { return kept }
                if frame.place == .chunk { sent += 1 }
                kept.append(frame)
            }
        }
        return kept
    }
}
