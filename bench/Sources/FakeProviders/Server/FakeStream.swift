import Hummingbird
import NIOCore

/// The writing of a streamed answer: its frames, their pacing, and how the stream ends.
struct FakeStream: Sendable {
    enum Ending: Sendable {
        /// The last frame was the API's terminator; end the HTTP body normally.
        case complete
        /// Send the API's in-stream error frame, then end the HTTP body normally.
        case error(FakeFrame)
        /// Close the connection without ending the chunked body, as a dropped upstream does.
        case abort
        /// Send nothing more until the client disconnects or the server stops, then close.
        case stall
    }

    /// Thrown from a body writer to make Hummingbird close the connection mid-body.
    struct ConnectionAbort: Error {}

    let frames: [FakeFrame]
    let ending: Ending
    let interval: Duration

    func body(for request: Request) -> ResponseBody {
        ResponseBody { writer in
            if self.interval == .zero {
                // One write for the whole stream keeps the benchmark path cheap; clients must cope
                // with frames arriving together anyway.
                let text = self.frames.map(\.text).joined()
                if !text.isEmpty {
                    try await writer.write(ByteBuffer(string: text))
                }
            } else {
                for (index, frame) in self.frames.enumerated() {
                    if index > 0 {
                        try await Task.sleep(for: self.interval)
                    }
                    try await writer.write(ByteBuffer(string: frame.text))
                }
            }
            switch self.ending {
            case .complete:
                try await writer.finish(nil)
            case .error(let frame):
                try await writer.write(ByteBuffer(string: frame.text))
                try await writer.finish(nil)
            case .abort:
                throw ConnectionAbort()
            case .stall:
                try await Self.waitForDisconnect(of: request)
                throw ConnectionAbort()
            }
        }
    }

    /// Waits until the client closes its side of the connection or the task is cancelled (the
    /// server is stopping), and then throws: there is nobody left to answer.
    static func waitForDisconnect(of request: Request) async throws {
        try await request.body.consumeWithCancellationOnInboundClose { _ in
            while true {
                try await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
