import Foundation

/// The gateway's control WebSocket, `ws://HOST:PORT/ws?session=NAME`, derived from its base URL.
struct GatewayEndpoint: Sendable {
    /// The socket's URL without the session, such as `ws://127.0.0.1:18789/ws`.
    let socketURL: String

    /// Accepts `http`, `https`, `ws` or `wss`, with or without the `/ws` path; nil for anything else.
    init?(baseURL: String) {
        guard var components = URLComponents(string: baseURL), components.host?.isEmpty == false else { return nil }
        switch components.scheme?.lowercased() {
        case "http", "ws": components.scheme = "ws"
        case "https", "wss": components.scheme = "wss"
        default: return nil
        }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        components.path = path.hasSuffix("/ws") ? path : path + "/ws"
        components.query = nil
        components.fragment = nil
        guard let url = components.string else { return nil }
        socketURL = url
    }

    func url(session: String) -> String {
        "\(socketURL)?session=\(session)"
    }

    /// The gateway's rule for `?session=`: 1 to 64 ASCII letters, digits, `-` or `_`.
    static func isValidSessionName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
