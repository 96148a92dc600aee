import Foundation
import PluginAPI
import Hummingbird
import Synchronization
import Logging

extension GatewayRouter {
    /// The admin API under `/admin/v1`. Every route requires a control token and is audited.
    static func addAdminRoutes(to router: Router<GatewayRequestContext>, state: GatewayState) {
        let admin = router.group("admin/v1").add(middleware: ControlAuthMiddleware(state: state))

        admin.get("status") { request, context in
            await state.auditAdmin("admin.status", request: request, context: context)
            return JSONBody.response(try await statusBody(state))
        }

        admin.post("shutdown") { request, context in
            await state.auditAdmin("admin.shutdown", request: request, context: context)
            state.logger.notice("shutdown requested through the admin API", metadata: ["principal": "\(context.principal?.id ?? "")"])
            // The server drains this request before it closes, so the caller still gets its answer.
            Task { await state.requestShutdown() }
            return JSONBody.response(["status": "stopping"], status: .accepted)
        }

        admin.post("config/reload") { request, context in
            await state.auditAdmin("admin.config.reload", request: request, context: context)
            switch await state.reloadConfig(trigger: "admin", principal: context.principal?.id ?? "") {
            case .applied(let changed, let restartRequired):
                return JSONBody.response(["status": "applied", "changed": changed, "restart_required": restartRequired])
            case .refused(let error):
                return JSONBody.response(
                    ["status": "refused", "error": ["code": "config_invalid", "message": "the new configuration is invalid; the running one stays"], "issues": error.issues.map(\.description)],
                    status: .unprocessableContent)
            }
        }

        admin.get("plugins") { request, context in
            await state.auditAdmin("admin.plugins.list", request: request, context: context)
            return JSONBody.response(encoding: ["plugins": state.plugins.statuses])
        }

        admin.post("plugins/reload") { request, context in
            let name = request.uri.queryParameters.get("name")
            let result: Result<[PluginCatalog.ReloadReport], PluginCatalog.ReloadRefused>
            do throws(PluginCatalog.ReloadRefused) {
                result = .success(try await state.plugins.reload(name))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let reports):
                let outcomes = reports.map { "\($0.name)=\($0.outcome.rawValue)" }.joined(separator: ",")
                await state.auditAdmin("admin.plugins.reload", request: request, context: context, payload: ["name": name ?? "*", "outcomes": outcomes])
                return JSONBody.response(encoding: ["reports": reports])
            case .failure(let error):
                await state.auditAdmin("admin.plugins.reload_refused", request: request, context: context, payload: ["name": name ?? "*", "error": error.description])
                return JSONBody.response(["error": ["code": "reload_refused", "message": error.description]], status: .conflict)
            }
        }

        admin.get("skills") { request, context in
            await state.auditAdmin("admin.skills.list", request: request, context: context)
            return JSONBody.response(encoding: ["skills": state.skills.statuses])
        }

        admin.post("skills/reload") { request, context in
            do {
                let statuses = try await state.skills.reload()
                let outcomes = statuses.map { "\($0.name)=\($0.state.rawValue)" }.joined(separator: ",")
                await state.auditAdmin("admin.skills.reload", request: request, context: context, payload: ["outcomes": outcomes])
                return JSONBody.response(encoding: ["skills": statuses])
            } catch {
                await state.auditAdmin("admin.skills.reload_refused", request: request, context: context, payload: ["error": "\(error)"])
                return JSONBody.response(["error": ["code": "reload_refused", "message": "\(error); the skills in force stay"]], status: .conflict)
            }
        }

        admin.get("pairing") { request, context in
            let channel = request.uri.queryParameters.get("channel")
            await state.auditAdmin("admin.pairing.list", request: request, context: context, payload: ["channel": channel ?? "*"])
            let now = Date()
            let records = try await state.store.pairings(channel: channel).map { record -> PairingListing in
                PairingListing(record: record, expired: record.isExpired(at: now))
            }
            return JSONBody.response(encoding: ["pairing": records])
        }

        for (action, approve) in [("approve", true), ("reject", false)] {
            admin.post("pairing/\(action)") { request, context in
                let channel = request.uri.queryParameters.get("channel") ?? ""
                let code = request.uri.queryParameters.get("code") ?? ""
                guard !channel.isEmpty, !code.isEmpty else {
                    throw APIError(.badRequest, code: "missing_parameter", message: "channel and code are required")
                }
                do {
                    let record = try await PairingDesk(store: state.store).decide(
                        channel: channel, code: code, approve: approve, by: context.principal?.id ?? "admin")
                    return JSONBody.response(encoding: ["pairing": PairingListing(record: record, expired: false)])
                } catch let refused as PairingDesk.DecisionRefused {
                    await state.auditAdmin(
                        "admin.pairing.\(action)_refused", request: request, context: context, payload: ["channel": channel, "code": code, "error": refused.description])
                    throw APIError(.notFound, code: "no_such_code", message: refused.description)
                }
            }
        }

        admin.get("trace/{message_id}") { request, context in
            let id = context.parameters.get("message_id") ?? ""
            await state.auditAdmin("admin.trace.read", request: request, context: context)
            await state.traces.flush()
            guard let entry = try await state.store.journalEntry(id: id) else {
                throw APIError(.notFound, code: "unknown_message", message: "no message with id \(id) in the ingress journal")
            }
            let events = try await state.store.traceEvents(messageID: id)
            let reply = try await state.store.outboxEntry(id: OutboxEntry.replyID(for: id))
            return JSONBody.response(encoding: TraceReport(message: entry, events: events, reply: reply))
        }

        admin.get("stats") { request, context in
            let (running, queued) = await state.pipeline.laneCounts
            return JSONBody.response(encoding: state.stats.snapshot(providers: state.router.health(), running: running, queued: queued))
        }

        admin.get("audit") { request, context in
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 50
            let type = request.uri.queryParameters.get("type")
            guard (1...1000).contains(limit) else { throw APIError(.badRequest, code: "invalid_limit", message: "limit must be between 1 and 1000") }
            await state.auditAdmin("admin.audit.read", request: request, context: context)
            let events = try await state.store.auditEvents(type: type, limit: limit)
            return JSONBody.response(encoding: ["events": events])
        }
    }

    static func statusBody(_ state: GatewayState) async throws -> [String: Any] {
        let counts = try await state.store.counts()
        let config = state.config
        return [
            "version": SwiftletVersion.current,
            "plugin_abi": Int(PluginABI.version),
            "pid": Int(getpid()),
            "started_at": state.startedAt.formatted(.iso8601),
            "uptime_seconds": Int(Date().timeIntervalSince(state.startedAt)),
            "bind": state.listening?.host ?? config.gateway.bind,
            "port": state.listening?.port ?? config.gateway.port,
            "workspace": state.workspace.root.path,
            "store": config.store.backend,
            "config_reloads": state.configReloads,
            "open_sockets": state.openSockets.load(ordering: .relaxed),
            "counts": [
                "sessions": counts.sessions, "messages": counts.messages,
                "control_tokens": counts.controlTokens, "audit_events": counts.auditEvents,
            ],
        ]
    }
}
