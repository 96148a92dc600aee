import Foundation
import PluginAPI
import Synchronization

/// `slack`: a Slack app over the Events API (HTTP webhooks) or Socket Mode (WebSocket), and the Web API.
///
/// With `config.mode` `events` (the default) Slack POSTs events to `/channels/slack/webhook` (the app's Request URL),
/// signed with the app's signing secret. With `socket` the plugin opens Socket Mode connections with the app-level
/// token instead (``SlackSocketMode``), and the gateway needs no public URL. Either way replies go out with
/// `chat.postMessage`, streamed previews are edited in place with `chat.update`, files with the external upload flow.
///
/// The tools.json entry:
///
/// ```json
/// {"name": "slack", "file": "libSlack.so",
///  "config": {"base_url": "https://slack.com/api"},
///  "permissions": {"network": ["slack.com:443", "files.slack.com:443"], "secrets": ["slack_bot_token", "slack_signing_secret"],
///                  "files": {"read": ["media"]}}}
/// ```
///
/// Socket Mode takes `"mode": "socket"`, the secret `slack_app_token` instead of `slack_signing_secret`, and
/// `wss-primary.slack.com:443` and `wss-backup.slack.com:443` (where Slack's connection URLs point) in `network`.
///
/// `files.slack.com` serves the files users send and takes uploads; `files.read` must cover the folders whose files
/// replies attach (`MEDIA:` lines), because an in-process plugin reads files only through the context.
struct SlackPlugin: ChannelPlugin {
    let metadata = PluginMetadata(name: "slack", version: "1.1.0", kind: .channel)
    let capabilities = ChannelCapabilities(textLimit: Self.textLimit, markup: .mrkdwn, editInPlace: true, media: true, threads: true, groups: true)

    /// Slack advises at most 4,000 characters per message (it truncates at 40,000).
    static let textLimit = 4000

    /// The bot's user id, learned at start (or from an event's authorizations before that).
    private let identity = SlackIdentity()
    /// The Socket Mode connections, in socket mode.
    private let socket = SlackSocketTask()

    func start(context: any PluginContext) async throws {
        let settings = try SlackSettings.parse(context.configuration)
        let token = try context.secret("slack_bot_token")
        // Read now so a missing secret shows at load, not at the first event.
        let appToken: String?
        switch settings.mode {
        case .events:
            _ = try context.secret("slack_signing_secret")
            appToken = nil
        case .socket:
            appToken = try context.secret("slack_app_token")
        }
        let api = SlackWebAPI(baseURL: settings.baseURL, token: token, http: context.http)
        if let configured = settings.botUserID {
            await identity.set(configured)
        } else {
            let answer: [String: Any]
            do {
                answer = try await api.call("auth.test", json: [:])
            } catch let error as SlackWebAPI.CallError {
                throw ChannelSetupError("Slack auth.test failed, so the bot's user id is unknown: \(error.failure.message)")
            }
            guard let user = answer["user_id"] as? String, !user.isEmpty else { throw ChannelSetupError("Slack auth.test answered without a user_id") }
            await identity.set(user)
            context.log(.info, "connected to Slack", metadata: ["bot_user_id": user, "team": answer["team"] as? String ?? ""])
        }
        guard let appToken else { return }
        let socketMode = SlackSocketMode(
            appAPI: SlackWebAPI(baseURL: settings.baseURL, token: appToken, http: context.http, tokenSecret: "slack_app_token"), botToken: token,
            identity: identity, context: context)
        // The first URL is asked for here, so a wrong app token fails the load; an outage only delays the connection.
        var firstURL: String?
        do {
            firstURL = try await socketMode.openURL()
        } catch let error as SlackWebAPI.CallError where !error.failure.retryable {
            throw ChannelSetupError("Slack Socket Mode cannot start: \(error.failure.message)")
        } catch {
            context.log(.warning, "Slack Socket Mode: no connection URL yet; retrying", metadata: ["error": "\(error)"])
        }
        socket.start { [firstURL] in await socketMode.run(firstURL: firstURL) }
    }

    func stop() async {
        await socket.stop()
    }

    // MARK: Receiving

    func webhook(_ request: ChannelWebhookRequest, context: any PluginContext) async -> ChannelWebhookResponse {
        guard request.method == "POST" else { return .json(["error": "Slack events are POSTed"], status: 405) }
        if (try? SlackSettings.parse(context.configuration))?.mode == .socket {
            return .json(["error": "this Slack channel receives its events over Socket Mode"], status: 404)
        }
        let secret: String
        let token: String
        do {
            secret = try context.secret("slack_signing_secret")
            token = try context.secret("slack_bot_token")
        } catch {
            context.log(.error, "a Slack event could not be checked", metadata: ["error": "\(error)"])
            return .json(["error": "the channel is not configured"], status: 500)
        }
        if let problem = SlackRequestSignature.problem(
            timestamp: request.header("X-Slack-Request-Timestamp"), signature: request.header("X-Slack-Signature"), body: request.body, now: Date(),
            verify: { hex, message in context.verifyHMACSHA256(hex: hex, key: Data(secret.utf8), message: message) })
        {
            context.log(.warning, "Slack event refused", metadata: ["reason": problem.rawValue, "ip": request.remoteAddress ?? "?"])
            return .json(["error": problem.rawValue], status: 401)
        }
        switch SlackEventDecision.decide(request.body, botUserID: await identity.botUserID, token: token) {
        case .challenge(let challenge):
            return .json(["challenge": challenge])
        case .ignored(let reason):
            context.log(.debug, "Slack event ignored", metadata: ["reason": reason])
            return .json([:])
        case .invalid(let reason):
            context.log(.warning, "Slack event not understood", metadata: ["reason": reason])
            return .json(["error": reason], status: 400)
        case .message(let message):
            do {
                try await context.inbound.receive(message)
                return .json([:])
            } catch {
                // Slack redelivers a request that is not answered 2xx (up to three times).
                context.log(.error, "a Slack message could not be taken; Slack will redeliver it", metadata: ["error": "\(error)"])
                return .json(["error": "not accepted, retry later"], status: 500)
            }
        }
    }

    // MARK: Sending

    func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt {
        let (api, target) = try connection(for: message.target, context: context)
        let parts = message.text.isEmpty ? [] : ChannelText.chunks(message.text, limit: Self.textLimit, as: .mrkdwn).map { ChannelText.render($0, as: .mrkdwn) }
        let steps = parts.count + message.attachments.count
        // A retry after a partial delivery continues where it stopped instead of repeating what Slack already shows.
        let progress = DeliveryProgress(store: context.store, key: message.idempotencyKey, steps: steps)
        var done = await progress.load()
        var receipt = DeliveryReceipt(externalID: message.previewID)
        do {
            for (index, part) in parts.enumerated() where index >= done {
                let ts: String
                if index == 0, let preview = message.previewID {
                    ts = try await replace(preview, with: part, target: target, api: api)
                } else {
                    ts = try await post(part, target: target, api: api)
                }
                if index == 0 { receipt = DeliveryReceipt(externalID: ts) }
                done += 1
                await progress.save(done)
            }
            for (index, attachment) in message.attachments.enumerated() where parts.count + index >= done {
                try await upload(attachment, target: target, api: api, context: context)
                done += 1
                await progress.save(done)
            }
        } catch let error as SlackWebAPI.CallError {
            throw error.failure
        }
        await progress.clear()
        return receipt
    }

    func preview(_ text: String, target: String, previous: DeliveryReceipt?, context: any PluginContext) async throws -> DeliveryReceipt {
        let (api, destination) = try connection(for: target, context: context)
        let shown = String(ChannelText.render(text, as: .mrkdwn).prefix(Self.textLimit - 1)) + "…"
        do {
            if let ts = previous?.externalID {
                _ = try await api.call("chat.update", json: ["channel": destination.channel, "ts": ts, "text": shown])
                return DeliveryReceipt(externalID: ts)
            }
            return DeliveryReceipt(externalID: try await post(shown, target: destination, api: api))
        } catch let error as SlackWebAPI.CallError {
            throw error.failure
        }
    }

    private func connection(for target: String, context: any PluginContext) throws(ChannelSendFailure) -> (SlackWebAPI, SlackTarget) {
        do {
            let settings = try SlackSettings.parse(context.configuration)
            guard let parsed = SlackTarget(target) else { throw ChannelSetupError("'\(target)' is not a Slack reply target") }
            return (SlackWebAPI(baseURL: settings.baseURL, token: try context.secret("slack_bot_token"), http: context.http), parsed)
        } catch {
            throw ChannelSendFailure("\(error)", retryable: false)
        }
    }

    /// `chat.postMessage`; the new message's ts.
    private func post(_ text: String, target: SlackTarget, api: SlackWebAPI) async throws -> String {
        var body: [String: Any] = ["channel": target.channel, "text": text]
        if let thread = target.threadTS { body["thread_ts"] = thread }
        let answer = try await api.call("chat.postMessage", json: body)
        return answer["ts"] as? String ?? ""
    }

    /// `chat.update` of the streamed preview; a preview that cannot be edited any more is left and the text posted anew.
    private func replace(_ ts: String, with text: String, target: SlackTarget, api: SlackWebAPI) async throws -> String {
        do {
            _ = try await api.call("chat.update", json: ["channel": target.channel, "ts": ts, "text": text])
            return ts
        } catch let error as SlackWebAPI.CallError where ["message_not_found", "cant_update_message", "edit_window_closed"].contains(error.code ?? "") {
            return try await post(text, target: target, api: api)
        }
    }

    /// Slack's external upload: ask for an upload URL, send the bytes there, then share the file in the conversation.
    private func upload(_ attachment: OutboundAttachment, target: SlackTarget, api: SlackWebAPI, context: any PluginContext) async throws {
        let data = try attachment.contents(context)
        let ticket = try await api.call("files.getUploadURLExternal", form: [("filename", attachment.fileName), ("length", String(data.count))])
        guard let uploadURL = ticket["upload_url"] as? String, let fileID = ticket["file_id"] as? String else {
            throw ChannelSendFailure("Slack files.getUploadURLExternal answered without upload_url or file_id", retryable: true)
        }
        let request = PluginHTTPRequest(method: "POST", url: uploadURL, headers: [("Content-Type", "application/octet-stream")], body: data, timeoutSeconds: 120)
        let response = try await SlackWebAPI.perform(request, what: "the Slack file upload", http: api.http)
        guard (200..<300).contains(response.status) else {
            throw ChannelSendFailure("the Slack file upload answered HTTP \(response.status)", retryable: response.status >= 500 || response.status == 429)
        }
        let files = try JSONSerialization.data(withJSONObject: [["id": fileID, "title": attachment.fileName]], options: [.sortedKeys])
        var form = [("files", String(decoding: files, as: UTF8.self)), ("channel_id", target.channel)]
        if let thread = target.threadTS { form.append(("thread_ts", thread)) }
        _ = try await api.call("files.completeUploadExternal", form: form)
    }
}

/// The bot's own Slack user id, shared by the calls of one generation.
actor SlackIdentity {
    private(set) var botUserID: String?

    func set(_ id: String) {
        botUserID = id
    }
}

/// The task that keeps Socket Mode connections open, from start to stop.
///
/// Detached, so it inherits nothing from the request that started the plugin (a reload runs inside an admin HTTP
/// request): only ``stop()`` ends it. A `stop` that comes while `start` still waits for Slack wins: the task is
/// then never started.
final class SlackSocketTask: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var stopped = false
    }

    private let state = Mutex(State())

    func start(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            guard !state.stopped else { return }
            state.task = Task.detached { await body() }
        }
    }

    func stop() async {
        let running = state.withLock { state in
            defer {
                state.task = nil
                state.stopped = true
            }
            return state.task
        }
        running?.cancel()
        await running?.value
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(SlackPlugin()) }
