public import Foundation
import NIOCore
public import PluginAPI

/// Downloads the files that come with inbound messages into the workspace, within `media.max_size`, and
/// describes each one in a line the model reads (a file too large or unreachable is described too, never dropped
/// silently).
public struct MediaInbox: Sendable {
    public let workspace: URL
    public let settings: GatewayConfig.Media

    public init(workspace: URL, settings: GatewayConfig.Media) {
        self.workspace = workspace
        self.settings = settings
    }

    /// One file, after the attempt to fetch it.
    public struct Saved: Sendable, Equatable {
        public var attachment: InboundAttachment
        /// Relative to the workspace; nil when the file was not saved.
        public var path: String?
        public var bytes: Int
        public var problem: String?
    }

    public func fetch(_ attachments: [InboundAttachment], channel: String, messageKey: String, http: any PluginHTTPClient, now: Date = Date()) async -> [Saved] {
        var saved: [Saved] = []
        for (index, attachment) in attachments.enumerated() {
            saved.append(await fetch(attachment, channel: channel, name: "\(messageKey)-\(index + 1)", http: http, now: now))
        }
        return saved
    }

    private func fetch(_ attachment: InboundAttachment, channel: String, name: String, http: any PluginHTTPClient, now: Date) async -> Saved {
        var result = Saved(attachment: attachment, path: nil, bytes: attachment.declaredSize ?? 0, problem: nil)
        if let declared = attachment.declaredSize, declared > settings.maxSize {
            result.problem = "not downloaded: \(Self.size(declared)) exceeds media.max_size (\(Self.size(settings.maxSize)))"
            return result
        }
        let response: PluginHTTPResponse
        do {
            response = try await http.send(
                PluginHTTPRequest(url: attachment.url, headers: attachment.headers.map { ($0.key, $0.value) }, timeoutSeconds: 120, maxResponseBytes: settings.maxSize))
        } catch is NIOTooManyBytesError {
            result.problem = "not downloaded: larger than media.max_size (\(Self.size(settings.maxSize)))"
            return result
        } catch {
            result.problem = "could not be downloaded: \(Self.redacting(attachment.url, in: "\(error)"))"
            return result
        }
        guard (200..<300).contains(response.status) else {
            result.problem = "could not be downloaded: the platform answered HTTP \(response.status)"
            return result
        }
        let day = now.formatted(.iso8601.year().month().day())
        let relative = [settings.directory, Self.safeName(channel), day, name + "-" + Self.safeName(attachment.fileName ?? Self.defaultName(attachment))]
            .joined(separator: "/")
        let target = workspace.appendingPathComponent(relative)
        do {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try response.body.write(to: target, options: .atomic)
        } catch {
            result.problem = "could not be saved: \(error.localizedDescription)"
            return result
        }
        result.path = relative
        result.bytes = response.body.count
        return result
    }

    /// The lines appended to the message text for the model.
    public static func describe(_ saved: [Saved]) -> String {
        saved.map { item in
            let kind = item.attachment.kind.rawValue
            let name = item.attachment.fileName.map { " '\($0)'" } ?? ""
            if let path = item.path {
                return "[attachment \(kind)\(name): \(path) (\(item.attachment.mimeType ?? "application/octet-stream"), \(size(item.bytes)))]"
            }
            return "[attachment \(kind)\(name) \(item.problem ?? "missing")]"
        }.joined(separator: "\n")
    }

    /// A file name reduced to letters, digits, `.`, `_` and `-`, at most 80 characters, never hidden.
    public static func safeName(_ name: String) -> String {
        let kept = String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) ? Character($0) : "_" })
        var trimmed = String(kept.prefix(80))
        while trimmed.hasPrefix(".") { trimmed.removeFirst() }
        return trimmed.isEmpty ? "file" : trimmed
    }

    static func defaultName(_ attachment: InboundAttachment) -> String {
        attachment.kind.rawValue + MediaType.fileExtension(of: attachment.mimeType ?? "")
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MB", Double(bytes) / Double(1 << 20)) : "\(max(1, (bytes + 1023) / 1024)) KB"
    }

    /// Error texts can carry the download URL, which can carry a token (Telegram puts the bot token in it).
    static func redacting(_ url: String, in text: String) -> String {
        text.replacingOccurrences(of: url, with: "<url>")
    }
}
