public import Foundation
public import Logging
import Synchronization

/// A skill as a tool the model calls: its name, its SKILL.md description and instructions, its input schema.
struct SkillTool: AgentTool {
    let runner: SkillRunner

    /// How much of SKILL.md's instructions the tool description carries.
    static let maxInstructions = 4000

    var definition: ToolDefinition {
        var description = runner.manifest.description
        let instructions = runner.manifest.instructions
        if !instructions.isEmpty { description += "\n\n" + String(instructions.prefix(Self.maxInstructions)) }
        return ToolDefinition(name: runner.entry.name, description: description, parameters: runner.manifest.input)
    }

    var group: String? { runner.entry.name }

    func run(arguments: JSONValue, context: ToolContext) async throws -> String {
        try await runner.run(input: arguments).get()
    }
}

/// The skills of tools.json: prepares them, registers them as tools, reports each one's state, and reloads them
/// when tools.json or a skill changes. A skill that fails to prepare is reported with the reason; the others run.
public final class SkillCatalog: Sendable {
    public struct Status: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable {
            case loaded, failed, disabled
        }

        public var name: String
        public var state: State
        public var runtime: String?
        public var sandbox: String
        public var network: Bool
        public var runs: Int
        public var failures: Int
        public var error: String?
    }

    private struct Record {
        var entry: ToolsFile.SkillEntry
        var runner: SkillRunner?
        var error: String?
    }

    private let workspace: Workspace
    private let tools: ToolRegistry
    private let logger: Logger
    private let loader: SkillLoader
    private let audit: @Sendable (String, [String: String]) async -> Void
    private let records = Mutex<[(name: String, record: Record)]>([])
    private let reloading = Atomic<Bool>(false)

    /// - Parameters:
    ///   - variables: what `env` and `secrets` grants draw from (the workspace `.env` adds what it does not set).
    ///   - audit: writes an audit row (event type, details): a skill registered with `sandbox: none` is one.
    public init(
        workspace: Workspace, tools: ToolRegistry, logger: Logger, variables: [String: String] = ProcessInfo.processInfo.environment,
        launcher: URL? = nil, audit: @escaping @Sendable (String, [String: String]) async -> Void = { _, _ in }
    ) {
        self.workspace = workspace
        self.tools = tools
        self.logger = logger
        self.audit = audit
        loader = SkillLoader(workspace: workspace, variables: workspace.variables(over: variables), logger: logger, launcher: launcher)
    }

    /// Reads tools.json and prepares every enabled skill: at start, and on every reload (runs in flight finish
    /// with what they started with). An unreadable tools.json changes nothing and throws.
    @discardableResult
    public func reload() async throws -> [Status] {
        guard reloading.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw SkillLoadError("a skill reload is already running")
        }
        defer { reloading.store(false, ordering: .releasing) }
        let file = try ToolsFile.load(workspace.toolsFile)
        let writable = Self.writableRoots(file, workspace: workspace)
        var fresh: [(name: String, record: Record)] = []
        for entry in file.skills {
            var record = Record(entry: entry)
            if entry.enabled {
                do throws(SkillLoadError) {
                    record.runner = try await loader.load(entry, writableElsewhere: writable)
                    if entry.sandbox == .none {
                        await audit("skill.unsandboxed", ["skill": entry.name, "path": entry.path])
                    }
                } catch {
                    record.error = error.message
                    logger.error("skill not loaded", metadata: ["skill": "\(entry.name)", "error": "\(error.message)"])
                }
            }
            fresh.append((entry.name, record))
        }
        let old = records.withLock { records in
            let old = records
            records = fresh
            return old
        }
        let stale = old.map(\.name).filter { name in !fresh.contains { $0.name == name && $0.record.runner != nil } }
        tools.replace(stale, with: fresh.compactMap { $0.record.runner.map(SkillTool.init) })
        // A stopped proxy fails the runs still using it cleanly; they were started under the old grant.
        for entry in old { await entry.record.runner?.close() }
        return statuses
    }

    public var statuses: [Status] {
        records.withLock { records in
            records.map { name, record in
                let counters = record.runner?.counters.withLock { $0 } ?? (runs: 0, failures: 0)
                return Status(
                    name: name, state: record.runner != nil ? .loaded : record.entry.enabled ? .failed : .disabled,
                    runtime: record.runner?.manifest.runtime.rawValue, sandbox: record.entry.sandbox.rawValue,
                    network: !record.entry.permissions.network.isEmpty, runs: counters.runs, failures: counters.failures, error: record.error)
            }
        }
    }

    /// Prepares one skill of tools.json without registering it (`swiftlet skills run` and `test`).
    public func prepare(_ name: String) async throws(SkillLoadError) -> SkillRunner {
        let file: ToolsFile
        do {
            file = try ToolsFile.load(workspace.toolsFile)
        } catch {
            throw SkillLoadError("\(error)")
        }
        guard let entry = file.skills.first(where: { $0.name == name }) else { throw SkillLoadError("tools.json registers no skill named '\(name)'") }
        guard entry.enabled else { throw SkillLoadError("the skill \(name) is disabled in tools.json") }
        return try await loader.load(entry, writableElsewhere: Self.writableRoots(file, workspace: workspace))
    }

    /// The folders some enabled skill or plugin of tools.json may write, resolved.
    static func writableRoots(_ file: ToolsFile, workspace: Workspace) -> [String] {
        let root = workspace.root.resolvingSymlinksInPath()
        let grants = file.skills.filter(\.enabled).map(\.permissions) + file.plugins.filter(\.enabled).map(\.permissions)
        return Array(Set(grants.flatMap { PluginFileAccess(workspace: root, permissions: $0).writableRoots })).sorted()
    }

    public func shutdown() async {
        let runners = records.withLock { $0.compactMap(\.record.runner) }
        for runner in runners { await runner.close() }
    }
}
