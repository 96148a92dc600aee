import Foundation
import PluginAPI

/// `http_fetch`: GETs a web page or API answer from a whitelisted host and hands the model its text.
///
/// Hosts come only from `permissions.network` (the context refuses the rest, and names that resolve to private
/// addresses); bodies are capped, pages reduced to their text.
struct HTTPFetchPlugin: ToolPlugin {
    let metadata = PluginMetadata(name: "http_fetch", version: "1.0.0", kind: .tool)

    static let defaultMaxBytes = 1 << 20
    static let maxMaxBytes = 5 << 20
    static let maxOutputCharacters = 24_000

    let functions = [
        ToolFunction(
            name: "http_fetch",
            description: "Fetch a URL (GET) from an allowed host. HTML is reduced to its text; JSON and plain text come back as they are.",
            parameters: """
                {"type":"object","properties":{"url":{"type":"string","description":"http or https URL."},\
                "max_bytes":{"type":"integer","minimum":1024,"maximum":\(maxMaxBytes),"description":"Largest body to accept (default \(defaultMaxBytes))."}},\
                "required":["url"]}
                """)
    ]

    struct Arguments: Decodable {
        var url: String
        var max_bytes: Int?
    }

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        let arguments = try call.decode(Arguments.self)
        let limit = min(max(arguments.max_bytes ?? Self.defaultMaxBytes, 1024), Self.maxMaxBytes)
        let response: PluginHTTPResponse
        do {
            response = try await context.http.send(
                PluginHTTPRequest(url: arguments.url, headers: [("User-Agent", "swiftlet-http_fetch/1.0"), ("Accept", "text/html, application/json, text/plain;q=0.9, */*;q=0.5")], maxResponseBytes: limit))
        } catch let denied as PluginAccessDenied {
            throw denied
        } catch let failure as ToolFailure {
            throw failure
        } catch {
            throw ToolFailure("fetching \(arguments.url) failed: \(error)")
        }
        let type = (response.header("Content-Type") ?? "").lowercased()
        var head = "HTTP \(response.status)"
        if (300..<400).contains(response.status), let location = response.header("Location") { head += ", redirect to \(location) (not followed)" }
        let body: String
        if type.contains("html") {
            body = Self.text(ofHTML: String(decoding: response.body, as: UTF8.self))
        } else if type.hasPrefix("text/") || type.contains("json") || type.contains("xml") || (type.isEmpty && !response.body.contains(0)) {
            body = String(decoding: response.body, as: UTF8.self)
        } else {
            return "\(head), \(response.body.count) bytes of \(type.isEmpty ? "binary data" : type) (not shown)"
        }
        let shown = body.count > Self.maxOutputCharacters ? String(body.prefix(Self.maxOutputCharacters)) + "\n[cut at \(Self.maxOutputCharacters) characters]" : body
        return "\(head)\n\n\(shown)"
    }

    /// The readable text of a page: scripts, styles and tags removed, block ends as line breaks, entities decoded,
    /// blank runs collapsed.
    static func text(ofHTML html: String) -> String {
        var text = html
        for element in ["script", "style", "noscript", "template", "svg", "head"] {
            text = text.replacingOccurrences(of: "<\(element)\\b[^>]*>.*?</\(element)\\s*>", with: " ", options: [.regularExpression, .caseInsensitive])
        }
        text = text.replacingOccurrences(of: "<!--.*?-->", with: " ", options: .regularExpression)
        text = text.replacingOccurrences(
            of: "<(br|/p|/div|/h[1-6]|/tr|/section|/article|/header|/footer|/blockquote|/pre)\\b[^>]*>", with: "\n", options: [.regularExpression, .caseInsensitive])
        text = text.replacingOccurrences(of: "<li\\b[^>]*>", with: "\n- ", options: [.regularExpression, .caseInsensitive])
        text = text.replacingOccurrences(of: "<[^>]+>", with: " ", options: .regularExpression)
        text = decodeEntities(text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{00A0}" }).joined(separator: " ")
        }
        var result: [String] = []
        for line in lines where !(line.isEmpty && (result.last?.isEmpty ?? true)) { result.append(line) }
        return result.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "mdash": "—", "ndash": "–", "hellip": "…", "copy": "©"]
        var output = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            output += rest[..<ampersand]
            let after = rest[rest.index(after: ampersand)...]
            if let semicolon = after.prefix(10).firstIndex(of: ";") {
                let name = after[..<semicolon]
                var replacement: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    replacement = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if name.hasPrefix("#") {
                    replacement = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
                } else {
                    replacement = named[String(name)]
                }
                if let replacement {
                    output += replacement
                    rest = after[after.index(after: semicolon)...]
                    continue
                }
            }
            output += "&"
            rest = after
        }
        return output + rest
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(HTTPFetchPlugin()) }
