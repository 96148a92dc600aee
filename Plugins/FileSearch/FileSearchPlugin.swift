import Foundation
import PluginAPI

/// `file_search`: finds files by name and lines by content under the folders its tools.json entry may read.
///
/// Everything goes through `context.files`, so the whitelist decides what is searched: a folder not listed
/// under `permissions.files.read` is never opened, and links leading out of a listed folder are skipped.
struct FileSearchPlugin: ToolPlugin {
    let metadata = PluginMetadata(name: "file_search", version: "1.0.0", kind: .tool)

    let functions = [
        ToolFunction(
            name: "file_search",
            description:
                "Search the user's files (the folders this tool may read) for a word or phrase, case-insensitively. Returns matching file names and matching lines as path:line: text.",
            parameters: """
                {"type":"object","properties":{\
                "query":{"type":"string","description":"Text to look for (case-insensitive)."},\
                "in":{"type":"string","enum":["names","contents","both"],"description":"Match file names, file contents, or both (default both)."},\
                "max_results":{"type":"integer","minimum":1,"maximum":200,"description":"At most this many results (default 20)."}},\
                "required":["query"]}
                """)
    ]

    struct Arguments: Decodable {
        var query: String
        var `in`: String?
        var max_results: Int?
    }

    /// Bounds that keep one call cheap whatever the folders hold.
    static let maxFilesVisited = 5_000
    static let maxFileBytes = 1 << 20

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        let arguments = try call.decode(Arguments.self)
        let query = arguments.query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !query.isEmpty else { throw ToolFailure("query is empty") }
        let scope = arguments.in ?? "both"
        guard ["names", "contents", "both"].contains(scope) else { throw ToolFailure("'in' must be names, contents or both") }
        let limit = min(max(arguments.max_results ?? 20, 1), 200)
        let roots = context.files.readableRoots
        guard !roots.isEmpty else { throw ToolFailure("no folder is readable: list some under permissions.files.read in tools.json") }

        var search = Search(query: query.lowercased(), names: scope != "contents", contents: scope != "names", limit: limit)
        for root in roots {
            try search.walk(root, label: (root as NSString).lastPathComponent, files: context.files)
            if search.done { break }
        }
        guard !search.results.isEmpty else { return "No matches for \"\(query)\"." }
        var lines = search.results
        if search.truncated { lines.append("(stopped at \(limit) results; narrow the query or raise max_results)") }
        return lines.joined(separator: "\n")
    }

    struct Search {
        let query: String
        let names: Bool
        let contents: Bool
        let limit: Int
        var results: [String] = []
        var visited = 0
        var truncated = false
        var done: Bool { truncated || visited >= FileSearchPlugin.maxFilesVisited }

        mutating func add(_ line: String) {
            if results.count >= limit {
                truncated = true
            } else {
                results.append(line)
            }
        }

        mutating func walk(_ folder: String, label: String, files: any PluginFiles) throws {
            guard let entries = try? files.list(folder) else { return }
            for entry in entries where !entry.hasPrefix(".") {
                try Task.checkCancellation()
                if done { return }
                let isFolder = entry.hasSuffix("/")
                let name = isFolder ? String(entry.dropLast()) : entry
                let path = folder + "/" + name
                let shown = label + "/" + name
                if isFolder {
                    try walk(path, label: shown, files: files)
                    continue
                }
                visited += 1
                if names, name.lowercased().contains(query) { add(shown) }
                guard contents, let data = try? files.read(path), data.count <= FileSearchPlugin.maxFileBytes, !data.contains(0) else { continue }
                for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.lowercased().contains(query) {
                    add("\(shown):\(number + 1): \(line.trimmingCharacters(in: .whitespaces).prefix(300))")
                    if truncated { return }
                }
            }
        }
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(FileSearchPlugin()) }
