import Foundation

/// `data/gateway.json`, written while a gateway runs so the CLI can find it (port, pid) without guessing.
enum RuntimeFile {
    struct Contents: Codable, Sendable {
        var pid: Int
        var bind: String
        var port: Int
        var version: String
        var startedAt: Date

        enum CodingKeys: String, CodingKey {
            case pid, bind, port, version
            case startedAt = "started_at"
        }
    }

    static func write(_ contents: Contents, to url: URL) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(contents) else { return }
        _ = FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600])
    }

    static func read(_ url: URL) -> Contents? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(Contents.self, from: data)
    }

    static func remove(_ url: URL, ifOwnedBy pid: Int) {
        guard read(url)?.pid == pid else { return }
        try? FileManager.default.removeItem(at: url)
    }
}
