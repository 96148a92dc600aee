import Foundation
import PluginAPI

/// `fs`: read, write, edit and list files within the folders its tools.json entry allows.
///
/// Every path goes through `context.files`, which resolves it (`..` and symbolic links included) and refuses
/// anything outside `permissions.files.read` (reads, lists) or `permissions.files.write` (writes, edits).
struct FileSystemPlugin: ToolPlugin {
    let metadata = PluginMetadata(name: "fs", version: "1.0.0", kind: .tool)

    static let maxReadBytes = 256 << 10
    static let maxWriteBytes = 4 << 20

    let functions = [
        ToolFunction(
            name: "fs_read",
            description: "Read a text file the assistant may read. Returns numbered lines; use from_line and max_lines for long files.",
            parameters: """
                {"type":"object","properties":{"path":{"type":"string","description":"Workspace-relative or absolute path."},\
                "from_line":{"type":"integer","minimum":1,"description":"First line to return (default 1)."},\
                "max_lines":{"type":"integer","minimum":1,"maximum":5000,"description":"At most this many lines (default 400)."}},"required":["path"]}
                """),
        ToolFunction(
            name: "fs_write",
            description: "Create or replace a text file in a folder the assistant may write.",
            parameters: """
                {"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"},\
                "overwrite":{"type":"boolean","description":"Replace an existing file (default false)."}},"required":["path","content"]}
                """),
        ToolFunction(
            name: "fs_edit",
            description: "Replace one exact occurrence of old_text with new_text in a file the assistant may write.",
            parameters: """
                {"type":"object","properties":{"path":{"type":"string"},"old_text":{"type":"string"},"new_text":{"type":"string"}},\
                "required":["path","old_text","new_text"]}
                """),
        ToolFunction(
            name: "fs_list",
            description: "List a folder the assistant may read (folders end with /). Without a path, lists the folders it may read and write.",
            parameters: #"{"type":"object","properties":{"path":{"type":"string"}}}"#),
    ]

    struct Arguments: Decodable {
        var path: String?
        var from_line: Int?
        var max_lines: Int?
        var content: String?
        var overwrite: Bool?
        var old_text: String?
        var new_text: String?
    }

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        let arguments = try call.decode(Arguments.self)
        let files = context.files
        switch call.function {
        case "fs_read":
            let path = try Self.required(arguments.path, "path")
            let data = try files.read(path)
            guard !data.contains(0) else { throw ToolFailure("\(path) is not a text file") }
            let text = String(decoding: data.prefix(Self.maxReadBytes), as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let first = max(arguments.from_line ?? 1, 1)
            let count = min(max(arguments.max_lines ?? 400, 1), 5000)
            guard first <= lines.count else { throw ToolFailure("\(path) has \(lines.count) lines") }
            let shown = lines[(first - 1)..<min(lines.count, first - 1 + count)]
            var output = shown.enumerated().map { "\(first + $0.offset)\t\($0.element)" }.joined(separator: "\n")
            if first - 1 + count < lines.count { output += "\n(\(lines.count - (first - 1 + count)) more lines; continue with from_line \(first + count))" }
            if data.count > Self.maxReadBytes { output += "\n(file cut at \(Self.maxReadBytes) bytes of \(data.count))" }
            return output
        case "fs_write":
            let path = try Self.required(arguments.path, "path")
            let content = try Self.required(arguments.content, "content")
            guard content.utf8.count <= Self.maxWriteBytes else { throw ToolFailure("content is over \(Self.maxWriteBytes) bytes") }
            if arguments.overwrite != true, (try? files.read(path)) != nil {
                throw ToolFailure("\(path) exists; pass overwrite: true to replace it, or use fs_edit")
            }
            try files.write(path, Data(content.utf8))
            return "wrote \(content.utf8.count) bytes to \(path)"
        case "fs_edit":
            let path = try Self.required(arguments.path, "path")
            let old = try Self.required(arguments.old_text, "old_text")
            let new = try Self.required(arguments.new_text, "new_text")
            guard !old.isEmpty else { throw ToolFailure("old_text is empty") }
            let text = String(decoding: try files.read(path), as: UTF8.self)
            let occurrences = text.components(separatedBy: old).count - 1
            guard occurrences == 1 else {
                throw ToolFailure(occurrences == 0 ? "old_text does not occur in \(path)" : "old_text occurs \(occurrences) times in \(path); include more context")
            }
            try files.write(path, Data(text.replacingOccurrences(of: old, with: new).utf8))
            return "edited \(path)"
        case "fs_list":
            guard let path = arguments.path, !path.isEmpty else {
                let readable = files.readableRoots.filter { !files.writableRoots.contains($0) }
                return (readable.map { "\($0)/ (read)" } + files.writableRoots.map { "\($0)/ (read, write)" }).joined(separator: "\n").ifEmpty("no folder is allowed")
            }
            return try files.list(path).joined(separator: "\n").ifEmpty("(empty)")
        default:
            throw ToolFailure("unknown function \(call.function)")
        }
    }

    private static func required(_ value: String?, _ name: String) throws -> String {
        guard let value else { throw ToolFailure("missing argument '\(name)'") }
        return value
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(FileSystemPlugin()) }
