public import Foundation

/// How many steps of one reply (text parts, then files) a channel has delivered, kept in the plugin's store while
/// a reply of several steps goes out, so a retry after a partial delivery continues where it stopped instead of
/// repeating what the user already has.
///
/// ```swift
/// let progress = DeliveryProgress(store: context.store, key: message.idempotencyKey, steps: parts.count + files.count)
/// var done = await progress.load()
/// for (index, part) in parts.enumerated() where index >= done {
///     try await post(part)
///     done += 1
///     await progress.save(done)
/// }
/// await progress.clear()
/// ```
public struct DeliveryProgress: Sendable {
    let store: any PluginKeyValueStore
    let key: String
    /// Only replies of several steps are tracked: a single step is either delivered or not.
    let tracked: Bool

    /// - Parameters:
    ///   - key: the outbox's idempotency key of the reply.
    ///   - steps: how many sends the reply takes.
    public init(store: any PluginKeyValueStore, key: String, steps: Int) {
        self.store = store
        self.key = "delivered:" + key
        self.tracked = steps > 1
    }

    /// The steps an earlier attempt delivered (0 when none, or when the store cannot say).
    public func load() async -> Int {
        guard tracked else { return 0 }
        return (try? await store.get(key)).flatMap { Int($0) } ?? 0
    }

    public func save(_ done: Int) async {
        guard tracked else { return }
        try? await store.set(key, String(done))
    }

    /// Forgets the count once the whole reply is out.
    public func clear() async {
        guard tracked else { return }
        try? await store.remove(key)
    }
}

extension OutboundAttachment {
    /// The file's bytes through the plugin's `files.read` permission; a file that cannot be read fails the reply
    /// at once (retrying cannot make it readable), saying which permission to grant.
    public func contents(_ context: any PluginContext) throws(ChannelSendFailure) -> Data {
        do {
            return try context.files.read(path)
        } catch let denied as PluginAccessDenied {
            throw ChannelSendFailure("\(fileName) cannot be sent: \(denied) (grant files.read on its folder, e.g. media)", retryable: false)
        } catch {
            throw ChannelSendFailure("\(fileName) cannot be read: \(error)", retryable: false)
        }
    }
}

extension PluginHTTPClient {
    /// Sends a request on behalf of a delivery: a refusal by the entry's permissions fails it at once (retrying
    /// cannot help), any other transport failure is retryable. `what` names the call in the message
    /// ("Slack chat.postMessage").
    public func send(_ request: PluginHTTPRequest, delivering what: String) async throws(ChannelSendFailure) -> PluginHTTPResponse {
        do {
            return try await send(request)
        } catch let denied as PluginAccessDenied {
            throw ChannelSendFailure("\(what): \(denied) (add the host to permissions.network)", retryable: false)
        } catch {
            throw ChannelSendFailure("\(what) could not be reached: \(error)")
        }
    }
}

/// A `multipart/form-data` body: text fields, then one file (Telegram's sendPhoto/sendDocument, WhatsApp's media
/// upload).
public struct MultipartForm: Sendable {
    public let boundary = "swiftlet-" + UUID().uuidString.lowercased()
    public let body: Data

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    public init(fields: [(String, String)], file: (name: String, fileName: String, mimeType: String, data: Data)) {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        // A quote or line break in the name would end the header early.
        let fileName = file.fileName.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
        body += Data(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(fileName)\"\r\nContent-Type: \(file.mimeType)\r\n\r\n".utf8)
        body += file.data
        body += Data("\r\n--\(boundary)--\r\n".utf8)
        self.body = body
    }
}

/// A configuration problem of a channel: it cannot work until its tools.json entry or a secret is fixed.
public struct ChannelSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Reading a channel's `config` object from its tools.json entry.
public enum ChannelConfig {
    /// The entry's `config` as a JSON object.
    public static func object(_ json: String, plugin: String) throws(ChannelSetupError) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            throw ChannelSetupError("the config of the \(plugin) entry in tools.json is not a JSON object")
        }
        return object
    }

    /// `config.base_url` without a trailing slash, or `fallback` when it is not set; anything but an http(s) URL is
    /// refused.
    public static func baseURL(in object: [String: Any], default fallback: String) throws(ChannelSetupError) -> String {
        guard let value = object["base_url"] else { return fallback }
        guard let text = value as? String, text.hasPrefix("http://") || text.hasPrefix("https://") else {
            throw ChannelSetupError("config.base_url must be an http(s) URL such as \(fallback)")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}
