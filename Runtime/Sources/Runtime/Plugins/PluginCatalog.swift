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
    }

    private struct Record {
        var entry: ToolsFile.PluginEntry
        var loaded: LoadedGeneration?
        var error: String?
        var functions: [String] = []
        var generationCounter = 0
        let counters = PluginCallCounters()
    }

    private let workspace: Workspace
    private let store: any GatewayStore
    private let tools: ToolRegistry
    private let logger: Logger
    private let searchDirectories: [URL]
    private let staging: URL
    private let variables: [String: String]
    private let httpClient: HTTPClient
    private let records = Mutex<[String: Record]>([:])
    private let order = Mutex<[String]>([])

    /// - Parameters:
    ///   - searchDirectories: where a plugin `file` given by name is looked for, in order; by default the
    ///     workspace `Plugins/` folder, then the folder of the running executable (first-party plugins).
    ///   - variables: the environment plugins' `env` and `secrets` permissions draw from.
    public init(
        workspace: Workspace, store: any GatewayStore, tools: ToolRegistry, logger: Logger, searchDirectories: [URL]? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.workspace = workspace
        self.store = store
        self.tools = tools
        self.logger = logger
        self.searchDirectories = searchDirectories ?? [workspace.pluginsDirectory, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap { $0 }
        self.staging = workspace.dataDirectory.appendingPathComponent("plugins")
        var variables = variables
        if let text = try? String(contentsOf: workspace.dotenvFile, encoding: .utf8) {
            variables.merge(DotEnvFile.parse(text).file.variables) { _, fromFile in fromFile }
        }
        self.variables = variables
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        self.httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Loads every enabled plugin of tools.json; an unreadable or invalid tools.json loads none and throws.
    @discardableResult
    public func loadAll() throws -> [Status] {
        let file = try ToolsFile.load(workspace.toolsFile)
        try? FileManager.default.removeItem(at: staging)
        for entry in file.plugins {
            order.withLock { $0.append(entry.name) }
            records.withLock { $0[entry.name] = Record(entry: entry) }
            guard entry.enabled else { continue }
            load(entry.name)
        }
        return statuses
    }

    public var statuses: [Status] {
        let names = order.withLock { $0 }
        return records.withLock { records in names.compactMap { records[$0].map(Self.status) } }
    }

    public func shutdown() async {
        try? await httpClient.shutdown()
    }

    private static func status(_ record: Record) -> Status {
        Status(
            name: record.entry.name, version: record.loaded?.metadata.version, kind: record.loaded?.metadata.kind.rawValue,
            generation: record.loaded?.generation ?? 0, isolation: record.entry.isolation.rawValue,
            state: !record.entry.enabled ? .disabled : (record.loaded == nil ? .failed : .loaded), error: record.error,
            calls: record.counters.calls.load(ordering: .relaxed), errors: record.counters.errors.load(ordering: .relaxed),
            functions: record.functions, sha256: record.loaded?.sha256)
    }

    private func load(_ name: String) {
        guard var record = records.withLock({ $0[name] }) else { return }
        do {
            let loaded = try loadGeneration(&record)
            record.loaded = loaded.generation
            record.functions = loaded.tools.map(\.definition.name)
            record.error = nil
            for tool in loaded.tools { tools.register(tool) }
            logger.notice(
                "plugin loaded",
                metadata: [
                    "plugin": "\(name)", "version": "\(loaded.generation.metadata.version)", "generation": "\(loaded.generation.generation)",
                    "functions": "\(record.functions.joined(separator: ","))",
                ])
        } catch {
            record.error = error.message
            logger.error("plugin not loaded; the gateway runs on without it", metadata: ["plugin": "\(name)", "reason": "\(error.message)"])
        }
        records.withLock { $0[name] = record }
    }

    private func loadGeneration(_ record: inout Record) throws(PluginLoadError) -> (generation: LoadedGeneration, tools: [PluginTool]) {
        let entry = record.entry
        guard entry.isolation == .inProcess else {
            throw PluginLoadError("\"isolation\": \"process\" is not available in this build; the plugin is not run in-process in its place")
        }
        guard let file = PluginLoader.locate(entry.file, searchDirectories: searchDirectories) else {
            throw PluginLoadError("\(entry.file) not found (looked in \(searchDirectories.map(\.path).joined(separator: ", ")))")
        }
        record.generationCounter += 1
        let generation = try PluginLoader.load(entry: entry, file: file, generation: record.generationCounter, staging: staging)
        guard let toolPlugin = generation.plugin as? any ToolPlugin else {
            throw PluginLoadError("channel plugins are loaded by the channel system (issue 6); only tool plugins are served for now")
        }
        let context = HostPluginContext(
            pluginName: entry.name, configuration: entry.configuration,
            files: PluginFileAccess(workspace: workspace.root, permissions: entry.permissions),
            http: PluginHTTP(client: httpClient, permissions: entry.permissions), store: PluginStoreSlice(plugin: entry.name, store: store),
            inbound: RefusingInboundSink(plugin: entry.name), permissions: entry.permissions, variables: variables,
            logger: logger)
        var pluginTools: [PluginTool] = []
        for function in toolPlugin.functions {
            guard let definition = PluginTool.definition(of: function) else {
                throw PluginLoadError("function \(function.name): parameters is not a JSON Schema object")
            }
            guard ToolsFile.isValidToolName(function.name) else {
                throw PluginLoadError("function name '\(function.name)' must be 1 to 64 of letters, digits, '_' and '-'")
            }
            if let owner = tools.definitions.first(where: { $0.name == function.name }), !record.functions.contains(owner.name) {
                throw PluginLoadError("function name '\(function.name)' is already taken by another tool")
            }
            pluginTools.append(
                PluginTool(
                    definition: definition, plugin: toolPlugin, context: context, timeout: .milliseconds(Int64(entry.permissions.timeoutSeconds * 1000)),
                    counters: record.counters))
        }
        return (generation, pluginTools)
    }
}
