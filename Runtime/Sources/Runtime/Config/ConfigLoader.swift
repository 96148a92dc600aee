public import Foundation

/// Reads the configuration layers of a workspace from disk and resolves them.
///
/// The loader keeps its inputs (workspace, environment, flags), so a reload re-reads the files with the
/// same flags the gateway was started with.
public struct ConfigLoader: Sendable {
    public let workspace: Workspace
    public let environment: [String: String]
    public let overrides: [ConfigOverride]
    public let resolver: ConfigResolver

    public init(
        workspace: Workspace,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [ConfigOverride] = [],
        schema: ConfigSchema = .swiftlet
    ) {
        self.workspace = workspace
        self.environment = environment
        self.overrides = overrides
        self.resolver = ConfigResolver(schema: schema)
    }

    /// The YAML files that make up the configuration, in the order they apply.
    public func layerFiles() -> [URL] {
        var files: [URL] = []
        if FileManager.default.fileExists(atPath: workspace.configFile.path) { files.append(workspace.configFile) }
        let fragments = (try? FileManager.default.contentsOfDirectory(atPath: workspace.configDirectory.path)) ?? []
        for name in fragments.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            files.append(workspace.configDirectory.appendingPathComponent(name))
        }
        return files
    }

    public func load() throws(ConfigError) -> GatewayConfig {
        var unreadable: [ConfigIssue] = []
        func read(_ url: URL) -> ConfigResolver.YAMLFile? {
            let display = workspace.displayPath(of: url)
            do {
                let data = try Data(contentsOf: url)
                guard let text = String(data: data, encoding: .utf8) else {
                    unreadable.append(ConfigIssue(source: ConfigSource(.file(path: display)), keyPath: "", message: "not valid UTF-8"))
                    return nil
                }
                return .init(path: display, text: text)
            } catch {
                unreadable.append(ConfigIssue(source: ConfigSource(.file(path: display)), keyPath: "", message: "cannot read: \(error.localizedDescription)"))
                return nil
            }
        }
        let files = layerFiles().compactMap(read)
        let dotenv = FileManager.default.fileExists(atPath: workspace.dotenvFile.path) ? read(workspace.dotenvFile) : nil
        guard unreadable.isEmpty else { throw ConfigError(unreadable) }
        let resolved = try resolver.resolve(files: files, dotenv: dotenv, environment: environment, overrides: overrides)
        let issues = GatewayConfig.crossKeyIssues(resolved)
        guard issues.isEmpty else { throw ConfigError(issues) }
        return GatewayConfig(resolved)
    }
}
