import Foundation
import HummingbirdWSClient

/// Reads JSON text frames from one WebSocket as ``ServerFrame`` values, skipping anything that is not one.
struct FrameReader {
    private var messages: WebSocketInboundMessageStream.AsyncIterator
    private let decoder = JSONDecoder()

    init(_ inbound: WebSocketInboundStream, maxSize: Int) {
        messages = inbound.messages(maxSize: maxSize).makeAsyncIterator()
    }

    /// The next frame, or nil when the connection has closed.
    mutating func next() async throws -> ServerFrame? {
        while let message = try await messages.next() {
            guard case .text(let text) = message, let frame = try? decoder.decode(ServerFrame.self, from: Data(text.utf8)) else { continue }
            return frame
        }
        return nil
    }
}
