import Foundation
import PluginAPI

/// File extensions and MIME types of the files channels send and receive, one table both ways.
enum MediaType {
    /// Extension → type; where a type has several extensions, the first is the one given to a file saved without
    /// a name.
    static let table: [(fileExtension: String, mimeType: String)] = [
        ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"), ("png", "image/png"), ("gif", "image/gif"), ("webp", "image/webp"),
        ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"), ("oga", "audio/ogg"), ("mp4", "video/mp4"), ("pdf", "application/pdf"),
        ("txt", "text/plain"), ("md", "text/plain"), ("csv", "text/csv"), ("json", "application/json"),
    ]

    /// The type of a file by its name's extension (`application/octet-stream` when unknown).
    static func of(fileName: String) -> String {
        let ext = (fileName as NSString).pathExtension.lowercased()
        return table.first { $0.fileExtension == ext }?.mimeType ?? "application/octet-stream"
    }

    /// `.jpg` for `image/jpeg`; empty for a type without a known extension.
    static func fileExtension(of mimeType: String) -> String {
        table.first { $0.mimeType == mimeType }.map { "." + $0.fileExtension } ?? ""
    }

    /// How a channel treats a file of this type (a GIF goes as a document: platforms animate it only that way).
    static func kind(of mimeType: String) -> InboundAttachment.Kind {
        if mimeType.hasPrefix("image/") && mimeType != "image/gif" { return .image }
        if mimeType.hasPrefix("audio/") { return .audio }
        if mimeType.hasPrefix("video/") { return .video }
        return .document
    }
}
