import Foundation

/// The skills of a workspace as `swiftlet skills list` shows them: every `tools.json` entry, and every folder of
/// `skills/` with a SKILL.md that no entry registers. Reads files; the decisions are ``status(entry:manifest:)``.
public enum SkillSurvey {
    public struct Status: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable {
            /// Registered, SKILL.md valid, everything it asks for granted.
            case ready
            /// Registered and valid, but SKILL.md asks for more than the grant: it runs with the grant only.
            case limited
            /// Registered, but the folder or its SKILL.md is missing or invalid.
            case invalid
            case disabled
            /// A folder in skills/ with a SKILL.md that tools.json does not register: it never runs.
            case unregistered
        }

        public var name: String
        public var state: State
        public var path: String
        public var description: String?
        public var runtime: String?
        public var sandbox: String?
        /// What SKILL.md asks for that tools.json does not grant.
        public var notGranted: [String]
        public var error: String?
    }

    /// Every skill of `workspace`, registered ones first in `tools.json` order, then unregistered folders by name.
    public static func survey(_ workspace: Workspace) throws -> [Status] {
        let file = try ToolsFile.load(workspace.toolsFile)
        var statuses = file.skills.map { entry in
            let folder = folder(of: entry, in: workspace)
            return status(entry: entry, folder: folder.path, manifest: manifest(in: folder))
        }
        let registered = Set(file.skills.map { folder(of: $0, in: workspace).standardizedFileURL.path })
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.skillsDirectory.path)) ?? []
        for name in names.sorted() {
            let folder = workspace.skillsDirectory.appendingPathComponent(name)
            guard !registered.contains(folder.standardizedFileURL.path),
                FileManager.default.fileExists(atPath: folder.appendingPathComponent("SKILL.md").path)
            else { continue }
            let parsed = manifest(in: folder)
            var found = Status(name: name, state: .unregistered, path: folder.path, notGranted: [])
            if case .success(let manifest) = parsed {
                found.name = manifest.name
                found.description = manifest.description
                found.runtime = manifest.runtime.rawValue
            }
            statuses.append(found)
        }
        return statuses
    }

    /// The state of one registered skill, from its entry and what reading its SKILL.md gave.
    static func status(entry: ToolsFile.SkillEntry, folder: String, manifest: Result<SkillManifest, SkillReadError>) -> Status {
        var status = Status(name: entry.name, state: .ready, path: folder, sandbox: entry.sandbox.rawValue, notGranted: [])
        switch manifest {
        case .failure(let error):
            status.state = entry.enabled ? .invalid : .disabled
            status.error = error.description
        case .success(let manifest):
            status.description = manifest.description
            status.runtime = manifest.runtime.rawValue
            status.notGranted = manifest.requested.notGranted(by: entry.permissions)
            if manifest.name != entry.name {
                status.state = .invalid
                status.error = "SKILL.md names the skill '\(manifest.name)' but tools.json registers it as '\(entry.name)'"
            } else if !entry.enabled {
                status.state = .disabled
            } else if !status.notGranted.isEmpty {
                status.state = .limited
            }
        }
        return status
    }

    /// Why a skill's SKILL.md could not be read.
    public struct SkillReadError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    static func folder(of entry: ToolsFile.SkillEntry, in workspace: Workspace) -> URL {
        entry.path.hasPrefix("/") ? URL(fileURLWithPath: entry.path) : workspace.root.appendingPathComponent(entry.path)
    }

    static func manifest(in folder: URL) -> Result<SkillManifest, SkillReadError> {
        let file = folder.appendingPathComponent("SKILL.md")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            return .failure(SkillReadError(description: "\(file.path) is missing or unreadable"))
        }
        do {
            return .success(try SkillManifest.parse(text))
        } catch {
            return .failure(SkillReadError(description: error.issues.map(\.description).joined(separator: "; ")))
        }
    }
}
