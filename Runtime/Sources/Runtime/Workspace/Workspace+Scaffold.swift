import Foundation

extension Workspace {
    /// Creates a new workspace: a commented `config.yaml`, an empty `tools.json`, and the folders
    /// `skills/`, `Plugins/`, `knowledge/`, `data/`, `logs/`. Files get mode 0600, folders 0700.
    /// Refuses to touch a folder that already has a `config.yaml`.
    ///
    /// - Returns: the paths created, relative to the workspace.
    @discardableResult
    public func scaffold(schema: ConfigSchema = .swiftlet) throws(WorkspaceError) -> [String] {
        if FileManager.default.fileExists(atPath: configFile.path) { throw .alreadyInitialized(root.path) }
        try Self.createPrivateDirectory(root)
        var created: [String] = []
        for directory in [skillsDirectory, pluginsDirectory, knowledgeDirectory, dataDirectory, logsDirectory] {
            try Self.createPrivateDirectory(directory)
            created.append(displayPath(of: directory) + "/")
        }
        let files: [(URL, String)] = [
            (configFile, ConfigTemplate.render(schema: schema)),
            (toolsFile, Self.emptyToolsRegistry),
        ]
        for (url, text) in files where !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw .cannotCreate(url.path, reason: "write failed")
            }
            created.append(displayPath(of: url))
        }
        return created
    }

    /// The registry a new workspace starts with: nothing registered, so nothing may run.
    static let emptyToolsRegistry = """
        {
          "version": 1,
          "plugins": [],
          "skills": []
        }

        """
}
