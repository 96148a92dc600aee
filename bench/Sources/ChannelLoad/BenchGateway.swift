import FakePlatforms
import Foundation
import GRDB

/// A fresh workspace for one run: the fake provider as the only model, the Telegram plugin in webhook mode against
/// the fake Telegram, and the rate limits raised far above the offered load (they stay in the path, they just never
/// refuse).
struct BenchWorkspace {
    static let webhookSecret = "bench-webhook-secret"
    let root: URL

    init(provider: String, telegram: FakeTelegram, telegramURL: String, telegramPort: Int, concurrency: Int) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-channel-load-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let base = provider.hasSuffix("/") ? String(provider.dropLast()) : provider
        try """
        providers:
          fake:
            base_url: \(base)/v1
        agent:
          models: [fake/m1]
        sessions:
          max_concurrency: \(concurrency)
        channels:
          telegram:
            dm_policy: open
        limits:
          global_per_minute: 10000000
          channel_per_minute: 10000000
          sender_per_minute: 10000000
          ip_per_minute: 10000000
        logging:
          level: warning
          stdout: false
        """.write(to: root.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try """
        {"version": 1, "plugins": [
          {"name": "telegram", "file": "libTelegram.so",
           "config": {"base_url": "\(telegramURL)", "mode": "webhook", "webhook_url": "https://bot.example.com/channels/telegram/webhook"},
           "permissions": {"network": ["127.0.0.1:\(telegramPort)"], "secrets": ["telegram_bot_token", "telegram_webhook_secret"], "timeout_seconds": 30}}
        ]}
        """.write(to: root.appendingPathComponent("tools.json"), atomically: true, encoding: .utf8)
        try "SWIFTLET_SECRET_TELEGRAM_BOT_TOKEN=\(telegram.token)\nSWIFTLET_SECRET_TELEGRAM_WEBHOOK_SECRET=\(Self.webhookSecret)\n"
            .write(to: root.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
    }

    /// The provider time the gateway recorded for each reply (outbox `meta.provider_ms`), by message index (the
    /// journal's external id is `<chat>:<message_id>`, and the driver sends message i as message_id i + 1).
    func providerTimes() throws -> [Int: Double] {
        var configuration = Configuration()
        configuration.readonly = true
        let database = try DatabaseQueue(path: root.appendingPathComponent("data/swiftlet.sqlite").path, configuration: configuration)
        return try database.read { db in
            var times: [Int: Double] = [:]
            let sql = """
                SELECT j.external_id AS external, json_extract(o.meta, '$.provider_ms') AS provider
                FROM outbox o JOIN ingress_journal j ON j.id = o.message_id WHERE o.channel = 'telegram'
                """
            for row in try Row.fetchAll(db, sql: sql) {
                guard let external: String = row["external"], let id = external.split(separator: ":").last.flatMap({ Int($0) }), let provider: Double = row["provider"]
                else { continue }
                times[id - 1] = provider
            }
            return times
        }
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}

/// `swiftlet gateway start` on the bench workspace, on a free port.
final class GatewayProcess: Sendable {
    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    let pid: Int32
    let baseURL: String
    private let process: Process

    private init(process: Process, baseURL: String) {
        self.process = process
        self.pid = process.processIdentifier
        self.baseURL = baseURL
    }

    static func start(binary: String, workspace: URL) throws -> GatewayProcess {
        let output = workspace.appendingPathComponent("gateway.out")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else { throw StartFailure(description: "cannot write \(output.path)") }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["gateway", "start", "--workspace", workspace.path, "--port", "0", "--print-dashboard-url"]
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains(" listening on http://") }),
                let url = line.firstMatch(of: /listening on (http:\/\/[0-9.:]+)/)?.output.1
            {
                return GatewayProcess(process: process, baseURL: String(url))
            }
            guard process.isRunning else { throw StartFailure(description: "the gateway exited: \(text)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw StartFailure(description: "the gateway did not start within 30 s")
    }

    /// Waits until `ready` holds (the channel plugin has started), at most 30 s.
    func waitUntilReady(_ ready: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !ready() {
            guard ContinuousClock.now < deadline, process.isRunning else { throw StartFailure(description: "the Telegram channel did not start (see gateway.out)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// User plus system CPU seconds the gateway has used.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command come state (field 3) …; utime and stime are fields 14 and 15, so 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
