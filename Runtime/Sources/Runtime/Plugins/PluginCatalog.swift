import AsyncHTTPClient
public import Foundation
public import Logging
import PluginAPI
import Synchronization

/// The plugins of tools.json: loads them, registers their tools, and reports each one's state.
///
/// A plugin that fails to load is reported with the reason and the gateway runs on with the others.
public final class PluginCatalog: Sendable {
    /// One plugin as `swiftlet plugins list` and `/ready` show it.
    public struct Status: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable {
            case loaded, failed, disabled
        }

        public var name: String
        public var version: String?
        public var kind: String?
        public var generation: Int
        public var isolation: String
        public var state: State
        public var error: String?
        public var calls: Int
        public var errors: Int
        public var functions: [String]
        public var sha256: String?
        /// Isolated plugins: whether the child is up (false while it restarts), how often it was restarted after it
        /// died, and how it last ended.
        public var running: Bool?
        public var restarts: Int?
        public var lastExit: String?
    }

    /// What `swiftlet plugins reload` reports for one plugin.
    public struct ReloadReport: Sendable, Equatable, Codable {
        public enum Outcome: String, Sendable, Codable {
            /// New in tools.json (or failing before) and now loaded.
            case loaded
            /// A new generation serves; the old one was drained.
            case reloaded
            /// The new build or entry did not load; the old generation (if any) keeps serving.
            case refused
            /// Gone from tools.json, or disabled there: its tools are unregistered.
            case removed
        }

        public var name: String
        public var outcome: Outcome
        public var generation: Int
        public var error: String?
        /// From reading the file to the old generation drained.
        public var milliseconds: Double
    }

    /// Why a reload was not attempted at all.
    public struct ReloadRefused: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private struct Record {
        var entry: ToolsFile.PluginEntry
        var loaded: LoadedGeneration?
        var calls: GenerationCalls?
        var error: String?
        var functions: [String] = []
        var generationCounter = 0
        let counters = PluginCallCounters()
    }

    /// A generation ready to swap in.
    private struct Prepared {
        var generation: LoadedGeneration
        var tools: [PluginTool]
        var calls: GenerationCalls
    }

    private let workspace: Workspace
    private let channels: ChannelHost?
    private let store: any GatewayStore
    private let tools: ToolRegistry
    private let logger: Logger
    private let searchDirectories: [URL]
    private let staging: URL
    private let variables: [String: String]
    private let httpClient: HTTPClient
    private let sandbox: PluginSandbox
    private let records = Mutex<[String: Record]>([:])
    private let order = Mutex<[String]>([])
    private let reloading = Atomic<Bool>(false)
    /// The last generation number used per name, kept when an entry is removed: a re-added plugin must get a new
    /// staging path, or glibc would hand back the code mapped under the old one.
    private let lastGeneration = Mutex<[String: Int]>([:])

    /// - Parameters:
    ///   - searchDirectories: where a plugin `file` given by name is looked for, in order; by default the
    ///     workspace `Plugins/` folder, then the folder of the running executable (first-party plugins).
    ///   - variables: the environment plugins' `env` and `secrets` permissions draw from; the workspace `.env`
    ///     adds what it does not set (the same precedence as the configuration).
    ///   - redactor: receives every plugin secret value (`SWIFTLET_SECRET_*`), so no log line shows one.
    ///   - channels: where channel plugins run; without it, channel plugins are refused.
    public init(
        workspace: Workspace, store: any GatewayStore, tools: ToolRegistry, logger: Logger, searchDirectories: [URL]? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment, redactor: SecretRedactor? = nil, hostExecutable: URL? = nil,
        channels: ChannelHost? = nil
    ) {
        self.channels = channels
        self.workspace = workspace
        self.store = store
        self.tools = tools
        self.logger = logger
        self.searchDirectories = searchDirectories ?? [workspace.pluginsDirectory, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap { $0 }
        self.staging = workspace.dataDirectory.appendingPathComponent("plugins")
        let variables = workspace.variables(over: variables)
        self.variables = variables
        self.sandbox = PluginSandbox(hostExecutable: hostExecutable)
        for (name, value) in variables where name.hasPrefix(HostPluginContext.secretPrefix) && !value.isEmpty { redactor?.register(value) }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        self.httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Loads every enabled plugin of tools.json at start; an unreadable or invalid tools.json loads none and throws.
    @discardableResult
    public func loadAll() async throws -> [Status] {
        let file = try ToolsFile.load(workspace.toolsFile)
        try? FileManager.default.removeItem(at: staging)
        order.withLock { $0 = file.plugins.map(\.name) }
        for entry in file.plugins {
            records.withLock { $0[entry.name] = newRecord(entry) }
            guard entry.enabled else { continue }
            _ = await install(entry)
        }
        return statuses
    }

    /// Re-reads tools.json and reloads `name` (or every plugin): each gets a new generation from its file, swapped
    /// in atomically, and the old generation is drained of calls in flight. A plugin whose new build does not load
    /// keeps its old generation serving. Plugins gone from tools.json, or disabled there, are unregistered.
    public func reload(_ name: String?) async throws(ReloadRefused) -> [ReloadReport] {
        guard reloading.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw ReloadRefused(description: "a reload is already running; try again when it ends")
        }
        defer { reloading.store(false, ordering: .releasing) }
        let file: ToolsFile
        do {
            file = try ToolsFile.load(workspace.toolsFile)
        } catch {
            throw ReloadRefused(description: "\(error); nothing was reloaded")
        }
        let known = records.withLock { Array($0.keys) }
        let targets: [String]
        if let name {
            guard file.plugins.contains(where: { $0.name == name }) || known.contains(name) else {
                throw ReloadRefused(description: "no plugin named '\(name)' in tools.json")
            }
            targets = [name]
        } else {
            targets = file.plugins.map(\.name) + known.filter { old in !file.plugins.contains { $0.name == old } }.sorted()
        }
        order.withLock { order in
            order = order.filter { old in file.plugins.contains { $0.name == old } } + file.plugins.map(\.name).filter { !order.contains($0) }
        }
        var reports: [ReloadReport] = []
        for target in targets {
            let started = ContinuousClock.now
            var report: ReloadReport
            var retired: (calls: GenerationCalls, timeout: Double, process: IsolatedPlugin?)?
            if let entry = file.plugins.first(where: { $0.name == target }), entry.enabled {
                let before = records.withLock { records in
                    if records[target] == nil { records[target] = newRecord(entry) }
                    return records[target]
                }
                let result = await install(entry)
                let after = records.withLock { $0[target] }
                switch result {
                case .success(let generation):
                    report = ReloadReport(name: target, outcome: before?.loaded == nil ? .loaded : .reloaded, generation: generation, milliseconds: 0)
                    if let old = before?.calls { retired = (old, before?.entry.permissions.timeoutSeconds ?? 30, before?.loaded?.process) }
                case .failure(let error):
                    // Say so when what keeps serving was loaded under another entry: narrowed permissions, for
                    // one, do not apply until a reload succeeds.
                    var message = error.message
                    if let old = before, old.loaded != nil, old.entry != entry {
                        message += " (the old generation keeps serving with its previous tools.json entry until a reload succeeds)"
                    }
                    report = ReloadReport(name: target, outcome: .refused, generation: after?.loaded?.generation ?? 0, error: message, milliseconds: 0)
                }
            } else {
                // Disabled or gone: what served is unregistered and drained. A disabled entry keeps a record.
                let removed = records.withLock { records -> Record? in
                    let old = records[target]
                    if let entry = file.plugins.first(where: { $0.name == target }) {
                        var record = old ?? newRecord(entry)
                        record.entry = entry
                        record.loaded = nil
                        record.calls = nil
                        record.error = nil
                        record.functions = []
                        records[target] = record
                    } else {
                        records[target] = nil
                    }
                    return old
                }
                if let functions = removed?.functions { tools.replace(functions, with: []) }
                if removed?.loaded?.plugin is any ChannelPlugin { await channels?.detach(target) }
                if let old = removed?.calls { retired = (old, removed?.entry.permissions.timeoutSeconds ?? 30, removed?.loaded?.process) }
                report = ReloadReport(name: target, outcome: .removed, generation: 0, milliseconds: 0)
            }
            if let retired {
                await Self.drain(retired.calls, upTo: .milliseconds(Int64((retired.timeout + 1) * 1000)))
                await retired.process?.stop()
            }
            report.milliseconds = (ContinuousClock.now - started).milliseconds
            logger.notice(
                "plugin \(report.outcome.rawValue)",
                metadata: ["plugin": "\(target)", "generation": "\(report.generation)", "ms": "\(report.milliseconds)", "error": "\(report.error ?? "")"])
            reports.append(report)
        }
        return reports
    }

    public var statuses: [Status] {
        let names = order.withLock { $0 }
        return records.withLock { records in names.compactMap { records[$0].map(Self.status) } }
    }

    /// Stops every isolated plugin's process, then the plugins' HTTP client.
    public func shutdown() async {
        await channels?.stopAll()
        let processes = records.withLock { $0.values.compactMap { $0.loaded?.process } }
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await process.stop() } }
        }
        try? await httpClient.shutdown()
    }

    private static func status(_ record: Record) -> Status {
        let health = record.loaded?.process?.health
        return Status(
            name: record.entry.name, version: record.loaded?.metadata.version, kind: record.loaded?.metadata.kind.rawValue,
            generation: record.loaded?.generation ?? 0, isolation: record.entry.isolation.rawValue,
            state: !record.entry.enabled ? .disabled : (record.loaded == nil ? .failed : .loaded), error: record.error,
            calls: record.counters.calls.load(ordering: .relaxed), errors: record.counters.errors.load(ordering: .relaxed),
            functions: record.functions, sha256: record.loaded?.sha256, running: health?.running, restarts: health?.restarts,
            lastExit: health?.lastExit)
    }

    private func newRecord(_ entry: ToolsFile.PluginEntry) -> Record {
        var record = Record(entry: entry)
        record.generationCounter = lastGeneration.withLock { $0[entry.name] ?? 0 }
        return record
    }

    /// Loads a new generation of `entry` and swaps it in; on failure the record keeps what it had.
    private func install(_ entry: ToolsFile.PluginEntry) async -> Result<Int, PluginLoadError> {
        guard var record = records.withLock({ $0[entry.name] }) else { return .failure(PluginLoadError("not registered")) }
        record.entry = entry
        record.generationCounter += 1
        lastGeneration.withLock { $0[entry.name] = record.generationCounter }
        let prepared: Prepared
        do {
            prepared = try await prepare(entry, generation: record.generationCounter, currentFunctions: record.functions, counters: record.counters)
        } catch {
            logger.error("plugin not loaded; the gateway runs on without it", metadata: ["plugin": "\(entry.name)", "reason": "\(error.message)"])
            records.withLock { records in
                records[entry.name]?.generationCounter = record.generationCounter
                // A plugin that was serving keeps serving its old generation (and its old entry).
                if records[entry.name]?.loaded == nil {
                    records[entry.name]?.entry = entry
                    records[entry.name]?.error = error.message
                }
            }
            return .failure(error)
        }
        let newFunctions = prepared.tools.map(\.definition.name)
        tools.replace(record.functions.filter { !newFunctions.contains($0) }, with: prepared.tools)
        record.loaded = prepared.generation
        record.calls = prepared.calls
        record.functions = newFunctions
        record.error = nil
        records.withLock { $0[entry.name] = record }
        logger.notice(
            "plugin loaded",
            metadata: [
                "plugin": "\(entry.name)", "version": "\(prepared.generation.metadata.version)", "generation": "\(prepared.generation.generation)",
                "functions": "\(newFunctions.joined(separator: ","))",
            ])
        return .success(prepared.generation.generation)
    }

    private func prepare(_ entry: ToolsFile.PluginEntry, generation number: Int, currentFunctions: [String], counters: PluginCallCounters) async throws(PluginLoadError)
        -> Prepared
    {
        guard let file = PluginLoader.locate(entry.file, searchDirectories: searchDirectories) else {
            throw PluginLoadError("\(entry.file) not found (looked in \(searchDirectories.map(\.path).joined(separator: ", ")))")
        }
        let http = PluginHTTP(client: httpClient, permissions: entry.permissions)
        let context = HostPluginContext(
            pluginName: entry.name, configuration: entry.configuration,
            files: PluginFileAccess(workspace: workspace.root, permissions: entry.permissions),
            http: http, webSocket: PluginWebSocket(permissions: entry.permissions, logger: logger), store: PluginStoreSlice(plugin: entry.name, store: store),
            inbound: channels?.sink(for: entry.name, http: http) ?? RefusingInboundSink(plugin: entry.name), permissions: entry.permissions,
            variables: variables, logger: logger)
        let generation: LoadedGeneration
        switch entry.isolation {
        case .inProcess:
            generation = try PluginLoader.load(entry: entry, file: file, generation: number, staging: staging)
        case .process:
            let (copy, digest) = try PluginLoader.stage(entry: entry, file: file, generation: number, staging: staging)
            let launch = try sandbox.launch(entry, plugin: copy, workspace: workspace.root, variables: variables)
            let process = IsolatedPlugin(name: entry.name, launch: launch, services: context, logger: logger)
            let handshake: PluginWire.Handshake
            do {
                handshake = try await process.start()
            } catch {
                await process.stop()
                throw error
            }
            generation = LoadedGeneration(
                generation: number, plugin: IsolatedToolPlugin(metadata: handshake.metadata, functions: handshake.functions, process: process),
                metadata: handshake.metadata, path: copy, sha256: digest, process: process)
        }
        if let channel = generation.plugin as? any ChannelPlugin {
            guard let channels else { throw PluginLoadError("channel plugins run only inside the gateway") }
            do {
                // Replaces the generation running under this name (stopped first).
                try await channels.attach(entry.name, plugin: channel, context: context)
            } catch {
                throw PluginLoadError("the channel did not start: \(error); it stays stopped until a reload succeeds")
            }
            return Prepared(generation: generation, tools: [], calls: GenerationCalls())
        }
        do {
            let (tools, calls) = try registryTools(of: generation, entry: entry, context: context, currentFunctions: currentFunctions, counters: counters)
            return Prepared(generation: generation, tools: tools, calls: calls)
        } catch {
            await generation.process?.stop()
            throw error
        }
    }

    /// The registry tools of a loaded generation, after the checks its functions must pass.
    private func registryTools(
        of generation: LoadedGeneration, entry: ToolsFile.PluginEntry, context: HostPluginContext, currentFunctions: [String], counters: PluginCallCounters
    ) throws(PluginLoadError) -> ([PluginTool], GenerationCalls) {
        guard let toolPlugin = generation.plugin as? any ToolPlugin else {
            throw PluginLoadError("the plugin is neither a tool plugin nor a channel plugin")
        }
        let calls = GenerationCalls()
        var pluginTools: [PluginTool] = []
        let names = toolPlugin.functions.map(\.name)
        if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw PluginLoadError("the plugin declares the function '\(repeated)' twice")
        }
        for function in toolPlugin.functions {
            guard let definition = PluginTool.definition(of: function) else {
                throw PluginLoadError("function \(function.name): parameters is not a JSON Schema object")
            }
            guard ToolsFile.isValidToolName(function.name) else {
                throw PluginLoadError("function name '\(function.name)' must be 1 to 64 of letters, digits, '_' and '-'")
            }
            if tools.definitions.contains(where: { $0.name == function.name }), !currentFunctions.contains(function.name) {
                throw PluginLoadError("function name '\(function.name)' is already taken by another tool")
            }
            pluginTools.append(
                PluginTool(
                    definition: definition, group: entry.name, plugin: toolPlugin, context: context, timeout: .milliseconds(Int64(entry.permissions.timeoutSeconds * 1000)),
                    counters: counters, calls: calls))
        }
        return (pluginTools, calls)
    }

    /// Waits until no call runs on a retired generation, or `limit` passes (a call that ignores its deadline).
    private static func drain(_ calls: GenerationCalls, upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while calls.inFlight.load(ordering: .acquiring) > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return }
        }
    }
}
