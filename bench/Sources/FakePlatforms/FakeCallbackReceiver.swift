public import Foundation
public import Hummingbird
import Synchronization

/// Records the requests a gateway makes to a callback URL, answering each with the next scripted status
/// (200 when the script is empty).
public final class FakeCallbackReceiver: Sendable {
    public struct Received: Sendable {
        public var path: String
        public var headers: [String: String]
        public var body: Data
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    private let received = Mutex<[Received]>([])
    private let script = Mutex<[Int]>([])

    public init() {}

    public var requests: [Received] { received.withLock { $0 } }

    /// The statuses the next requests get, in order.
    public func answer(_ statuses: Int...) {
        script.withLock { $0.append(contentsOf: statuses) }
    }

    public var router: Router<FakePlatformContext> {
        let router = Router(context: FakePlatformContext.self)
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 8 << 20)
            let status = self.script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            if (200..<300).contains(status) {
                self.received.withLock { $0.append(Received(path: request.uri.path, headers: headers, body: Data(body.readableBytesView))) }
            }
            return Response(status: .init(code: status), headers: status == 429 ? [.retryAfter: "1"] : [:], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        return router
    }
}
