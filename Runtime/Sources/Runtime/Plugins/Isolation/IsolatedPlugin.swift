import Foundation
import Glibc
import Logging
import PluginAPI
import Subprocess
import Synchronization
import SystemPackage

/// One generation of a plugin that runs with `"isolation": "process"`: `swiftlet plugin-host` inside a bubblewrap
/// sandbox, fed calls over ``PluginWire``.
///
/// A crash, `fatalError`, or a call that outlives its deadline and ignores cancellation ends the child: the calls it
/// was running fail with a clear error, the gateway and every other plugin carry on, and the child is started again
/// after a backoff (0.1 s, doubling to 30 s while it keeps dying young). Calls that arrive meanwhile wait for the
/// new child within their own deadline.
final class IsolatedPlugin: Sendable {
    /// How the child is started: `bwrap` and its arguments, and what `initialize` tells it.
    struct Launch: Sendable {
        var executable: String
        var arguments: [String]
        var initialize: PluginWire.Initialize
        /// The host paths bwrap mounts, all resolved when the launch was planned. They are checked again before
        /// every start: a plugin that replaced one with a symbolic link (inside a writable root) would otherwise
        /// choose what its next sandbox mounts.
        var mountSources: [String]

        /// Why the sandbox must not start as planned; nil when every mount source is still what it was.
        func changedMount() -> String? {
            SandboxProcess.changedMount(mountSources).map { "\($0) is no longer the path it was when the plugin loaded" }
        }
    }

    /// What `swiftlet plugins list` shows of the child.
    struct Health: Sendable, Equatable {
        var running: Bool
        var restarts: Int
        var lastExit: String?
    }

    /// How long a cancelled call (deadline passed, or its conversation gone) may take to stop before the child
    /// is killed and restarted.
    static let cancelGrace: Duration = .seconds(2)
    static let maxBackoff: Duration = .seconds(30)
    /// How long a new child may take to answer `initialize` the first time (the plugin's static initialisers
    /// included) before the load fails.
    static let startLimit: Duration = .seconds(15)
    /// Frames waiting for a child that does not read its standard input: beyond this the child is killed.
    static let maxQueuedFrames = 4096
    /// Requests of one child (store, HTTP) served at once: beyond this they are refused.
    static let maxChildRequests = 64

    private struct Pending {
        var frame: [UInt8]
        var continuation: CheckedContinuation<JSONValue, any Error>?
        /// The session the call was sent to; nil while it waits for a running child.
        var session: Int?
        var cancelled = false
    }

    private struct State {
        /// The latest child; `ready` once it answered `initialize`.
        var current: ChildSession?
        var ready = false
        var pending: [Int: Pending] = [:]
        /// Calls given up on (deadline or cancellation) that the child has not answered yet.
        var abandoned: Set<Int> = []
        var nextID = 0
        var sessions = 0
        var restarts = 0
        var lastExit: String?
        var stopped = false
        var supervisor: Task<Void, Never>?
        var started: CheckedContinuation<PluginWire.Handshake, any Error>?
        var handshake: PluginWire.Handshake?
    }

    let name: String
    private let launch: Launch
    /// Serves what the child asks of the gateway (store, HTTP, log), with the entry's permissions.
    private let services: HostPluginContext
    private let logger: Logger
    private let state = Mutex(State())

    init(name: String, launch: Launch, services: HostPluginContext, logger: Logger) {
        self.name = name
        self.launch = launch
        self.services = services
        self.logger = logger
    }

    /// Starts the child and returns what the plugin says of itself. A plugin that does not come up the first
    /// time, or not within ``startLimit``, is not restarted: the load fails with the reason.
    func start() async throws(PluginLoadError) -> PluginWire.Handshake {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                state.withLock { state in
                    state.started = continuation
                    state.supervisor = Task { await self.supervise() }
                }
                _ = DeadlineWatch.shared.add(deadline: .now + Self.startLimit) { [self] in
                    let (started, session) = state.withLock { state in
                        defer { if state.started != nil { state.started = nil } }
                        if state.started != nil { state.stopped = true }
                        return (state.started, state.current)
                    }
                    guard let started else { return }
                    started.resume(throwing: PluginLoadError("the isolated plugin host did not answer within \(Self.startLimit) (a plugin that hangs while it loads?)"))
                    session?.kill()
                }
            }
        } catch {
            throw error as? PluginLoadError ?? PluginLoadError("\(error)")
        }
    }

    /// Runs `invocation` in the child: the answer, or the plugin's error (``ToolFailure``, ``PluginAccessDenied``...).
    /// No deadline of its own: the caller's cancellation (``PluginTool``'s deadline) abandons the call.
    func call(_ invocation: ToolInvocation) async throws -> String {
        let id = state.withLock { state in
            state.nextID = state.nextID == Int(Int32.max) ? 1 : state.nextID + 1
            state.pending[state.nextID] = Pending(frame: [], continuation: nil)
            return state.nextID
        }
        let request = PluginWire.request(id: id, method: PluginWire.Method.invoke, params: PluginWire.json(invocation))
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                let refusal = state.withLock { state -> (any Error)? in
                    guard !state.stopped else {
                        state.pending[id] = nil
                        return ToolError("the plugin \(name) was unloaded")
                    }
                    guard state.pending[id]?.cancelled == false else {
                        state.pending[id] = nil
                        return CancellationError()
                    }
                    state.pending[id]?.frame = request
                    state.pending[id]?.continuation = continuation
                    if state.ready, let session = state.current {
                        state.pending[id]?.session = session.number
                        session.send(request)
                    }
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            abandon(id)
        }
        guard case .string(let text) = result else { throw ToolError("the plugin \(name) answered with something other than text") }
        return text
    }

    var health: Health {
        state.withLock { Health(running: $0.ready, restarts: $0.restarts, lastExit: $0.lastExit) }
    }

    /// Retires this generation: calls still waiting fail, the child's standard input is closed so it exits, and
    /// after a grace period it is killed.
    func stop() async {
        let (supervisor, session, waiting) = state.withLock { state in
            state.stopped = true
            let waiting = state.pending.values.compactMap(\.continuation)
            state.pending = [:]
            return (state.supervisor, state.current, waiting)
        }
        for continuation in waiting { continuation.resume(throwing: ToolError("the plugin \(name) was unloaded")) }
        session?.close()
        let killer = Task {
            try? await Task.sleep(for: Self.cancelGrace)
            session?.kill()
            supervisor?.cancel()
        }
        if session == nil { supervisor?.cancel() }
        await supervisor?.value
        killer.cancel()
    }

    // MARK: - Calls given up on

    private func abandon(_ id: Int) {
        let (continuation, session) = state.withLock { state -> (CheckedContinuation<JSONValue, any Error>?, ChildSession?) in
            guard let pending = state.pending[id] else { return (nil, nil) }
            guard let continuation = pending.continuation else {
                state.pending[id]?.cancelled = true
                return (nil, nil)
            }
            state.pending[id] = nil
            guard let number = pending.session, let session = state.current, session.number == number, state.ready else { return (continuation, nil) }
            state.abandoned.insert(id)
            return (continuation, session)
        }
        continuation?.resume(throwing: CancellationError())
        guard let session else { return }
        session.send(PluginWire.notification(method: PluginWire.Method.cancel, params: .object(["id": .number(Double(id))])))
        _ = DeadlineWatch.shared.add(deadline: .now + Self.cancelGrace) { [self] in
            let stuck = state.withLock { $0.current === session && $0.abandoned.contains(id) }
            guard stuck else { return }
            logger.error("isolated plugin ignored a cancelled call; killing its process", metadata: ["plugin": "\(name)", "grace": "\(Self.cancelGrace)"])
            session.kill()
        }
    }

    // MARK: - The child's lifetime

    private func supervise() async {
        var failures = 0
        while true {
            let began = ContinuousClock.now
            let exit: String
            if let changed = launch.changedMount() {
                exit = "not started: \(changed); reload the plugin to plan its sandbox again"
            } else {
                exit = await runSession()
            }
            let (stopped, started) = state.withLock { state in
                state.lastExit = exit
                let started = state.handshake == nil ? state.started : nil
                if started != nil { state.started = nil }
                return (state.stopped, started)
            }
            if let started {
                started.resume(throwing: PluginLoadError("the isolated plugin host did not start: \(exit)"))
                return
            }
            if stopped { return }
            failures = ContinuousClock.now - began > .seconds(30) ? 1 : failures + 1
            let delay = min(Self.maxBackoff, .milliseconds(100) * (1 << min(failures - 1, 9)))
            state.withLock { $0.restarts += 1 }
            logger.error("isolated plugin stopped; restarting", metadata: ["plugin": "\(name)", "exit": "\(exit)", "in": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { return }
            if state.withLock({ $0.stopped }) { return }
        }
    }

    /// Writing to the pipe of a child that just died raises SIGPIPE, whose default ends the gateway. SwiftNIO
    /// ignores it once its first socket exists, but plugins load before the server listens.
    private static let brokenPipesIgnored: Bool = {
        _ = signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// One child, from start to exit; returns how it ended.
    private func runSession() async -> String {
        precondition(Self.brokenPipesIgnored)
        let (frames, frameContinuation) = AsyncStream.makeStream(of: ChildSession.Outgoing.self)
        let (kills, killContinuation) = AsyncStream.makeStream(of: Void.self)
        let session = state.withLock { state in
            state.sessions += 1
            let session = ChildSession(number: state.sessions, frames: frameContinuation, kills: killContinuation)
            state.current = session
            state.ready = false
            return session
        }
        let outcome: String
        do {
            let result = try await Subprocess.run(
                .path(FilePath(launch.executable)), arguments: Arguments(launch.arguments), environment: .custom([:]), input: .inputWriter,
                output: .sequence, error: .sequence
            ) { execution in
                session.bubblewrapPID.store(execution.processIdentifier.value, ordering: .releasing)
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let writer = execution.standardInputWriter
                        var open = true
                        for await item in frames {
                            session.dequeued()
                            switch item {
                            case .frame(let bytes) where open:
                                do { _ = try await writer.write(bytes) } catch { open = false }
                            case .frame:
                                break
                            case .close:
                                open = false
                                try? await writer.finish()
                            }
                        }
                        if open { try? await writer.finish() }
                    }
                    // Kills do not queue behind frames a stuck child does not read.
                    group.addTask {
                        for await _ in kills { try? execution.send(signal: .kill) }
                    }
                    group.addTask {
                        var splitter = LineSplitter(maxLineBytes: 2000)
                        do {
                            for try await buffer in execution.standardError {
                                for line in buffer.withUnsafeBytes({ splitter.append($0) }) { self.stderr(line, session: session) }
                            }
                        } catch {}
                        if let rest = splitter.finish() { self.stderr(rest, session: session) }
                    }
                    session.send(PluginWire.request(id: 0, method: PluginWire.Method.initialize, params: launch.initialize.json))
                    var reader = PluginWire.FrameReader()
                    do {
                        for try await buffer in execution.standardOutput {
                            buffer.withUnsafeBytes { reader.append($0) }
                            while let json = try reader.next() { try receive(PluginWire.message(json), session: session) }
                        }
                    } catch {
                        session.notes.protocolFailure.withLock { $0 = "\(error)" }
                        logger.error("isolated plugin broke the protocol; killing its process", metadata: ["plugin": "\(name)", "error": "\(error)"])
                        session.kill()
                    }
                    // Standard output closed: the child is gone or going. Make sure of it, then end the helpers.
                    killContinuation.yield()
                    session.finish()
                    await group.waitForAll()
                }
            }
            outcome = Self.describe(result.terminationStatus)
        } catch {
            outcome = "the sandbox could not be started (\(error))"
        }
        session.finish()
        let lastLines = session.notes.tail.withLock { $0 }
        var exit = session.notes.protocolFailure.withLock { $0 }.map { "\(outcome) after a protocol error: \($0)" } ?? outcome
        if let cause = Self.cause(in: lastLines) { exit += "; it said: \(cause)" }
        let failed = state.withLock { state -> [CheckedContinuation<JSONValue, any Error>] in
            if state.current === session { state.ready = false }
            state.abandoned = []
            var failed: [CheckedContinuation<JSONValue, any Error>] = []
            for (id, pending) in state.pending where pending.session == session.number {
                if let continuation = pending.continuation { failed.append(continuation) }
                state.pending[id] = nil
            }
            return failed
        }
        for continuation in failed {
            continuation.resume(throwing: ToolError("the plugin \(name) stopped while running the call (\(exit)); it is being restarted"))
        }
        return exit
    }

    private func receive(_ message: PluginWire.Message, session: ChildSession) throws {
        switch message {
        case .response(0, .success(let result)):
            let handshake = try PluginWire.Handshake(result)
            do {
                try PluginLoader.check(handshake.metadata, name: name)
            } catch {
                throw PluginWire.ProtocolError(error.message)
            }
            let started = try state.withLock { state throws(PluginWire.ProtocolError) in
                guard !state.ready else { throw PluginWire.ProtocolError("a second initialize result") }
                // A restarted child serves the same code: what it registered the first time must not change.
                if let first = state.handshake, first != handshake {
                    throw PluginWire.ProtocolError("the restarted plugin describes itself differently from its first start")
                }
                state.handshake = state.handshake ?? handshake
                state.ready = true
                for (id, pending) in state.pending where pending.session == nil && pending.continuation != nil {
                    state.pending[id]?.session = session.number
                    session.send(pending.frame)
                }
                defer { state.started = nil }
                return state.started
            }
            started?.resume(returning: handshake)
        case .response(0, .failure(let error)):
            throw PluginWire.ProtocolError("initialize failed: \(error.message)")
        case .response(let id, let result):
            // Only an answer to a call this child was given counts.
            let continuation = state.withLock { state -> CheckedContinuation<JSONValue, any Error>? in
                if state.abandoned.remove(id) != nil { return nil }
                guard state.pending[id]?.session == session.number else { return nil }
                return state.pending.removeValue(forKey: id)?.continuation
            }
            continuation?.resume(with: result.mapError { $0.thrown })
        case .request(let id, let method, let params):
            guard session.requests.add(1, ordering: .relaxed).newValue <= Self.maxChildRequests else {
                session.requests.subtract(1, ordering: .relaxed)
                session.send(
                    PluginWire.response(id: id, result: .failure(.init(kind: .error, message: "more than \(Self.maxChildRequests) requests at once; try again"))))
                return
            }
            Task {
                let result = await serve(method, params)
                session.requests.subtract(1, ordering: .relaxed)
                session.send(PluginWire.response(id: id, result: result))
            }
        case .notification(PluginWire.Method.log, let params):
            guard session.notes.admitLogLine() else { return }
            let level = params["level"]?.stringValue.flatMap(PluginLogLevel.init(rawValue:)) ?? .info
            var metadata: [String: String] = [:]
            if case .object(let members)? = params["metadata"] { for (key, value) in members { metadata[key] = value.stringValue ?? value.jsonText } }
            services.log(level, String((params["message"]?.stringValue ?? "").prefix(2000)), metadata: metadata)
        case .notification:
            break
        }
    }

    /// One line of the child's standard error, kept for the account of its end and logged within the session's
    /// budget.
    private func stderr(_ line: String, session: ChildSession) {
        session.notes.tail.withLock { tail in
            tail.append(line)
            if tail.count > 40 { tail.removeFirst() }
        }
        guard session.notes.admitLogLine() else { return }
        logger.warning("isolated plugin wrote to stderr", metadata: ["plugin": "\(name)", "line": "\(line)"])
    }

    /// Does for the child what its sandbox keeps from it, with the entry's permissions checked here.
    private func serve(_ method: String, _ params: JSONValue) async -> Result<JSONValue, PluginWire.RemoteError> {
        do {
            switch method {
            case PluginWire.Method.storeGet:
                let value = try await services.store.get(try Self.key(params))
                return .success(.object(["value": value.map(JSONValue.string) ?? .null]))
            case PluginWire.Method.storeSet:
                guard let value = params["value"]?.stringValue else { throw PluginWire.ProtocolError("store.set needs a value") }
                try await services.store.set(try Self.key(params), value)
                return .success(.object([:]))
            case PluginWire.Method.storeRemove:
                try await services.store.remove(try Self.key(params))
                return .success(.object([:]))
            case PluginWire.Method.httpSend:
                return .success(PluginWire.json(try await services.http.send(try PluginWire.httpRequest(params))))
            default:
                return .failure(.init(kind: .protocolError, message: "unknown method \(method)"))
            }
        } catch let error as PluginWire.ProtocolError {
            return .failure(.init(kind: .protocolError, message: error.description))
        } catch {
            return .failure(PluginWire.RemoteError(error))
        }
    }

    private static func key(_ params: JSONValue) throws(PluginWire.ProtocolError) -> String {
        guard let key = params["key"]?.stringValue else { throw PluginWire.ProtocolError("a store request needs a key") }
        return key
    }

    /// How the sandbox ended. bwrap exits with the child's status, or 128 + the signal that killed it.
    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code) where code > 128 && code < 128 + 65: "killed by signal \(code - 128) (\(signalName(code - 128)))"
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal) (\(signalName(signal)))"
        }
    }

    /// The line of the child's last words that says why it died: a Swift fatal error or a `error`/`panic` line,
    /// else the last line that is not a stack frame.
    static func cause(in lines: [String]) -> String? {
        let telling = lines.last { line in
            let lowered = line.lowercased()
            return lowered.contains("fatal error") || lowered.contains("panic") || lowered.contains("error:")
        }
        if let telling { return telling }
        return lines.last { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return !trimmed.isEmpty && !(trimmed.first?.isNumber ?? false) && trimmed != "Current stack trace:"
        }
    }

    private static func signalName(_ signal: Int32) -> String {
        guard let text = strsignal(signal) else { return "unknown" }
        return String(cString: text)
    }
}

/// The registry's view of an isolated plugin: its functions as the child reported them, each call sent to it.
struct IsolatedToolPlugin: ToolPlugin {
    let metadata: PluginMetadata
    let functions: [ToolFunction]
    let process: IsolatedPlugin

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        try await process.call(call)
    }
}

/// One run of the child: the frames for its standard input, the way to kill it, and what it left behind.
final class ChildSession: Sendable {
    enum Outgoing: Sendable {
        case frame([UInt8])
        /// Closes the child's standard input: it exits by itself.
        case close
    }

    let number: Int
    private let frames: AsyncStream<Outgoing>.Continuation
    private let kills: AsyncStream<Void>.Continuation
    private let queued = Atomic<Int>(0)
    /// Requests of the child being served.
    let requests = Atomic<Int>(0)
    let notes = SessionNotes()

    init(number: Int, frames: AsyncStream<Outgoing>.Continuation, kills: AsyncStream<Void>.Continuation) {
        self.number = number
        self.frames = frames
        self.kills = kills
    }

    /// Queues a frame; a child that lets ``IsolatedPlugin/maxQueuedFrames`` pile up unread is killed.
    func send(_ frame: [UInt8]) {
        guard queued.add(1, ordering: .relaxed).newValue <= IsolatedPlugin.maxQueuedFrames else {
            kill()
            return
        }
        frames.yield(.frame(frame))
    }

    func dequeued() {
        queued.subtract(1, ordering: .relaxed)
    }

    func close() {
        frames.yield(.close)
    }

    /// The pid of bwrap while the session runs (its child, the sandbox's init, is found from it).
    let bubblewrapPID = Atomic<Int32>(0)

    /// Ends the child at once: its sandbox (see ``SandboxProcess/killSandbox(bubblewrap:)``), then bwrap.
    func kill() {
        SandboxProcess.killSandbox(bubblewrap: bubblewrapPID.load(ordering: .acquiring))
        frames.yield(.close)
        kills.yield()
    }

    func finish() {
        frames.finish()
        kills.finish()
    }
}

/// What one session of the child left behind, and its log budget.
final class SessionNotes: Sendable {
    /// The last lines the child wrote to standard error.
    let tail = Mutex<[String]>([])
    let protocolFailure = Mutex<String?>(nil)
    private let budget = Mutex<(windowStart: ContinuousClock.Instant, lines: Int)>((.now, 0))
    static let linesPerWindow = 100
    static let window: Duration = .seconds(10)

    /// Whether one more line of the child's output may be logged: at most ``linesPerWindow`` per ``window``, the
    /// rest dropped, so a chatty or hostile plugin cannot flood the gateway's log.
    func admitLogLine() -> Bool {
        budget.withLock { budget in
            if ContinuousClock.now - budget.windowStart > Self.window { budget = (.now, 0) }
            budget.lines += 1
            return budget.lines <= Self.linesPerWindow
        }
    }
}
