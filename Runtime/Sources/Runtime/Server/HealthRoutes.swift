import Foundation
import Hummingbird

extension GatewayRouter {
    /// `/health`: the process is alive. `/ready`: it can serve traffic; otherwise 503 naming what is not ready.
    static func addHealthRoutes(to router: Router<GatewayRequestContext>, state: GatewayState) {
        router.get("health") { _, _ in
            JSONBody.response(["status": "ok"])
        }
        router.get("ready") { _, _ in
            let checks = await readinessChecks(state)
            let notReady = checks.filter { !$0.value.ok }.keys.sorted()
            let body: [String: Any] = [
                "ready": notReady.isEmpty,
                "version": SwiftletVersion.current,
                "not_ready": notReady.map { "\($0): \(checks[$0]!.detail)" },
                "checks": checks.mapValues { ["ok": $0.ok, "detail": $0.detail] },
            ]
            return JSONBody.response(body, status: notReady.isEmpty ? .ok : .serviceUnavailable)
        }
    }

    static func readinessChecks(_ state: GatewayState) async -> [String: (ok: Bool, detail: String)] {
        var checks: [String: (ok: Bool, detail: String)] = [:]
        if let listening = state.listening {
            checks["server"] = (true, "listening on \(listening.host):\(listening.port)")
        } else {
            checks["server"] = (false, "not listening yet")
        }
        do {
            _ = try await state.store.counts()
            checks["store"] = (true, "sqlite open")
        } catch {
            checks["store"] = (false, "store unavailable: \(error)")
        }
        checks["config"] = (true, "loaded, \(state.configReloads) reload(s)")
        // A plugin that did not load does not stop the gateway from serving: reported, not failing readiness.
        let plugins = state.plugins.statuses
        let failed = plugins.filter { $0.state == .failed }
        checks["plugins"] = (
            true,
            "\(plugins.filter { $0.state == .loaded }.count) loaded, \(failed.count) failed"
                + failed.map { "; \($0.name): \($0.error ?? "failed")" }.joined()
        )
        let skills = state.skills.statuses
        let brokenSkills = skills.filter { $0.state == .failed }
        let unsandboxed = skills.filter { $0.state == .loaded && $0.sandbox == "none" }
        checks["skills"] = (
            true,
            "\(skills.filter { $0.state == .loaded }.count) loaded, \(brokenSkills.count) failed"
                + brokenSkills.map { "; \($0.name): \($0.error ?? "failed")" }.joined()
                + (unsandboxed.isEmpty ? "" : "; UNSANDBOXED: " + unsandboxed.map(\.name).joined(separator: ", "))
        )
        return checks
    }
}
