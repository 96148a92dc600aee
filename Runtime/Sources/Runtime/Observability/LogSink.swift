public import Logging
import Foundation
import Synchronization

/// Where every log line of one gateway goes: stdout (JSON or text) and the rotated JSON file.
///
/// Shared by all loggers of the process. The level and outputs can change at run time (config reload).
public final class LogSink: Sendable {
    public struct Settings: Sendable, Equatable {
        public var level: Logger.Level
        public var format: GatewayConfig.LogFormat
        public var stdout: Bool
        public var file: (path: String, maxSize: Int, keep: Int)?

        public init(level: Logger.Level = .info, format: GatewayConfig.LogFormat = .json, stdout: Bool = true, file: (path: String, maxSize: Int, keep: Int)? = nil) {
            self.level = level
            self.format = format
            self.stdout = stdout
            self.file = file
        }

        public static func == (lhs: Settings, rhs: Settings) -> Bool {
            lhs.level == rhs.level && lhs.format == rhs.format && lhs.stdout == rhs.stdout
                && lhs.file?.path == rhs.file?.path && lhs.file?.maxSize == rhs.file?.maxSize && lhs.file?.keep == rhs.file?.keep
        }
    }

    private struct State: ~Copyable {
        var settings: Settings
        var file: RotatingLogFile?
    }

    public let redactor: SecretRedactor
    private let state: Mutex<State>
    // The level is read on every log call; keep it out of the lock.
    private let level: Atomic<Int>

    public init(settings: Settings = Settings(), redactor: SecretRedactor = SecretRedactor()) throws {
        self.redactor = redactor
        let file = try settings.file.map { try RotatingLogFile(path: $0.path, maxSize: $0.maxSize, keep: $0.keep) }
        self.state = Mutex(State(settings: settings, file: file))
        self.level = Atomic(Self.rank(settings.level))
    }

    /// Settings for a gateway configuration, with the file path resolved in the workspace.
    public static func settings(for config: GatewayConfig, workspace: Workspace) -> Settings {
        let logging = config.logging
        return Settings(
            level: config.gateway.dev ? .debug : logging.level,
            format: config.gateway.dev ? .text : logging.format,
            stdout: logging.stdout,
            file: logging.fileEnabled ? (workspace.path(logging.filePath).path, logging.fileMaxSize, logging.fileKeep) : nil)
    }

    public var currentLevel: Logger.Level { Logger.Level.allCases[level.load(ordering: .relaxed)] }

    /// Applies new settings; the file is reopened only when its path changes.
    public func update(_ settings: Settings) throws {
        try state.withLock { state in
            if state.settings.file?.path != settings.file?.path {
                state.file = try settings.file.map { try RotatingLogFile(path: $0.path, maxSize: $0.maxSize, keep: $0.keep) }
            }
            if let file = state.file, let wanted = settings.file {
                file.maxSize = wanted.maxSize
                file.keep = wanted.keep
            }
            state.settings = settings
        }
        level.store(Self.rank(settings.level), ordering: .relaxed)
    }

    public func makeLogger(label: String) -> Logger {
        Logger(label: label) { [self] label in JSONLogHandler(label: label, sink: self) }
    }

    func write(_ entry: JSONLogHandler.Entry) {
        let json = redactor.redact(entry.json())
        state.withLock { state in
            state.file?.write(json)
            guard state.settings.stdout else { return }
            let line = state.settings.format == .json ? json : redactor.redact(entry.text())
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    private static func rank(_ level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 2
    }
}
