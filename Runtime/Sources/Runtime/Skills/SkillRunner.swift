import Foundation
import Logging
import Synchronization

/// Why a skill could not be prepared to run.
public struct SkillLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One registered skill, ready to run: its manifest, resolved paths and, unless its entry says `sandbox: none`,
/// its sandbox. Runs are independent processes; any number may run at once.
public final class SkillRunner: Sendable {
    public let entry: ToolsFile.SkillEntry
    public let manifest: SkillManifest
    let skill: SkillLaunch.Skill
    /// nil with `sandbox: none`.
    let host: SkillLaunch.Host?
    let proxy: SkillEgressProxy?
    private let variables: [String: String]
    private let logger: Logger

    /// Runs ended so far, and how many of them failed.
    let counters = Mutex<(runs: Int, failures: Int)>((0, 0))

    init(
        entry: ToolsFile.SkillEntry, manifest: SkillManifest, skill: SkillLaunch.Skill, host: SkillLaunch.Host?, proxy: SkillEgressProxy?,
        variables: [String: String], logger: Logger
    ) {
        self.entry = entry
        self.manifest = manifest
        self.skill = skill
        self.host = host
        self.proxy = proxy
        self.variables = variables
        self.logger = logger
    }

    /// The skill folder, resolved.
    public var folder: String { skill.folder }

    /// Stops what the runner holds open (its egress proxy); runs started after this fail to reach the network.
    public func close() async {
        await proxy?.stop()
    }

    /// The whitelisted variables and secrets with their values: a variable as the gateway has it, a secret
    /// (`SWIFTLET_SECRET_<NAME>`) under its own name. Unset ones are left out.
    var environment: [(name: String, value: String)] {
        var values: [(name: String, value: String)] = []
        for name in entry.permissions.environment { if let value = variables[name] { values.append((name, value)) } }
        for name in entry.permissions.secrets {
            if let value = variables[HostPluginContext.secretVariable(name)], !value.isEmpty { values.append((name, value)) }
        }
        return values
    }

    /// Runs the skill once with `input` on its standard input: the output, or the error the model is told.
    public func run(input: JSONValue) async -> Result<String, ToolError> {
        let data = Array((input.jsonText + "\n").utf8)
        let executable: String
        let arguments: [String]
        let variables: [(name: String, value: String)]
        var slot: SkillUIDPool.Lease?
        if let host {
            // A folder swapped for a link since load would be followed by bwrap (as root) and mounted instead.
            if let changed = SandboxProcess.changedMount(skill.mountSources + [host.launcher]) {
                logger.error("skill not run: a mount source changed since it loaded", metadata: ["skill": "\(entry.name)", "path": "\(changed)"])
                return .failure(ToolError("the skill \(entry.name) was not run: \(changed) is no longer the path it was when the skill loaded; reload the skills"))
            }
            if getuid() == 0 {
                guard let lease = SkillUIDPool.shared.lease() else {
                    return .failure(ToolError("the skill \(entry.name) could not start: too many skill runs at once"))
                }
                slot = lease
            }
            let launch = SkillLaunch(skill: skill, host: host, uid: slot?.uid, proxySocket: proxy?.socketPath, environment: environment)
            executable = launch.executable
            arguments = launch.arguments
            variables = launch.environment
        } else {
            logger.warning("running a skill WITHOUT a sandbox (tools.json sandbox: none)", metadata: ["skill": "\(entry.name)"])
            executable = skill.interpreter
            arguments = skill.interpreterArguments + [skill.script]
            variables = [("LANG", "C.UTF-8"), ("PATH", SkillLaunch.path), ("SWIFTLET_SKILL", skill.name), ("SWIFTLET_WORKSPACE", skill.workspace)] + environment
        }
        defer { slot.map(SkillUIDPool.shared.release) }
        let name = entry.name
        let logger = logger
        let admitted = SkillLogBudget()
        let outcome: Result<String, ToolError>
        do {
            let result = try await SkillProcess.run(
                executable: executable, arguments: arguments, environment: variables, input: data,
                timeout: .milliseconds(Int64(entry.permissions.timeoutSeconds * 1000)), outputLimit: entry.limits.outputKB << 10, unsandboxed: host == nil
            ) { line in
                if admitted.admit() { logger.info("skill stderr", metadata: ["skill": "\(name)", "line": "\(line)"]) }
            }
            outcome = SkillOutcome.result(
                result, skill: name, limits: entry.limits, timeoutSeconds: entry.permissions.timeoutSeconds, memoryMB: entry.permissions.memoryMB)
            logger.debug("skill ran", metadata: ["skill": "\(name)", "ms": "\(result.elapsed.milliseconds)", "ok": "\((try? outcome.get()) != nil)"])
        } catch {
            outcome = .failure(ToolError("the skill \(name) could not be started: \(error)"))
        }
        counters.withLock { counters in
            counters.runs += 1
            if case .failure = outcome { counters.failures += 1 }
        }
        return outcome
    }

}

/// At most 100 lines of a run's standard error reach the log; the rest is dropped.
private final class SkillLogBudget: Sendable {
    private let lines = Atomic<Int>(0)

    func admit() -> Bool {
        lines.add(1, ordering: .relaxed).newValue <= 100
    }
}

/// The unprivileged uids skill runs get when the gateway runs as root: one per run, so the kernel's per-user
/// process limit counts each run on its own (a uid shared by concurrent runs would share their limit). They
/// belong to no account and own no file: what a run can read is what is mounted and readable by others.
final class SkillUIDPool: Sendable {
    static let shared = SkillUIDPool(base: 1_800_000_000, size: 65_536)
    /// The group of every run (the pool's first id): files runs create in writable roots are group-writable, so
    /// a later run, under another uid, can change them. Owners grant a folder with `chgrp 1800000000`.
    static let group: UInt32 = 1_800_000_000

    struct Lease: Sendable {
        var uid: UInt32
    }

    let base: UInt32
    let size: UInt32
    private let inUse = Mutex<Set<UInt32>>([])

    init(base: UInt32, size: UInt32) {
        self.base = base
        self.size = size
    }

    /// A uid no other run of this process holds. Random, so two gateways (or a gateway and `skills run`) on one
    /// machine rarely pick the same.
    func lease() -> Lease? {
        inUse.withLock { used in
            guard used.count < Int(size) / 2 else { return nil }
            while true {
                let uid = base + UInt32.random(in: 1..<size)
                if used.insert(uid).inserted { return Lease(uid: uid) }
            }
        }
    }

    func release(_ lease: Lease) {
        _ = inUse.withLock { $0.remove(lease.uid) }
    }
}
