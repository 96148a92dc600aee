public import Foundation
public import PluginAPI

/// Files a reply sends: each line `MEDIA: <path>` of the model's answer names a file of the workspace to attach.
/// Pure apart from reading the file's attributes; a path outside the workspace, missing or too large stays out
/// and the reply says so.
public enum ReplyMedia {
    public struct Extracted: Sendable, Equatable {
        public var text: String
        public var attachments: [OutboundAttachment]
        public var problems: [String]
    }

    /// An answer still being written, as its preview shows it: `MEDIA:` lines, and a last line that may be
    /// becoming one, left out (the final reply sends the files).
    public static func previewText(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let last = lines.last?.trimmingCharacters(in: .whitespaces), !last.isEmpty, "MEDIA:".hasPrefix(last) { lines.removeLast() }
        return lines.filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("MEDIA:") }.joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Largest file sent with a reply.
    public static let maxSize = 50 << 20

    public static func extract(_ text: String, workspace: URL) -> Extracted {
        var kept: [Substring] = []
        var attachments: [OutboundAttachment] = []
        var problems: [String] = []
        let root = workspace.resolvingSymlinksInPath().standardizedFileURL.path
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("MEDIA:") else {
                kept.append(line)
                continue
            }
            let given = trimmed.dropFirst("MEDIA:".count).trimmingCharacters(in: .whitespaces)
            let url = (given.hasPrefix("/") ? URL(fileURLWithPath: given) : workspace.appendingPathComponent(given)).resolvingSymlinksInPath().standardizedFileURL
            guard PermissionSet.path(url.path, isInside: [root]) else {
                problems.append("(\(given) was not sent: only files inside the workspace can be sent)")
                continue
            }
            let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
            guard let attributes, attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? Int else {
                problems.append("(\(given) was not sent: no such file)")
                continue
            }
            guard size <= maxSize else {
                problems.append("(\(given) was not sent: larger than 50 MB)")
                continue
            }
            let type = MediaType.of(fileName: url.lastPathComponent)
            attachments.append(OutboundAttachment(kind: MediaType.kind(of: type), path: url.path, fileName: url.lastPathComponent, mimeType: type))
        }
        var body = kept.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if !problems.isEmpty { body += (body.isEmpty ? "" : "\n") + problems.joined(separator: "\n") }
        return Extracted(text: body, attachments: attachments, problems: problems)
    }
}
