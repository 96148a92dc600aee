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

    private enum Outgoing: Sendable {
        case frame([UInt8])
        /// Closes the child's standard input: it exits by itself.
        case close
        case kill
    }

    private struct Pending {
        var frame: [UInt8]
        var continuation: CheckedContinuation<JSONValue, any Error>?
        /// The session the call was sent to; nil while it waits for a running child.
        var session: Int?
        var cancelled = false
    }

    private struct State {
        /// The number of the latest session; `outgoing` is set while that session has a child that answered
        /// `initialize`.
        var session = 0
        var outgoing: AsyncStream<Outgoing>.Continuation?
        var pending: [Int: Pending] = [:]
        /// Calls given up on (deadline or cancellation) that the child has not answered yet.
        var abandoned: Set<Int> = []
        var nextID = 0
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
    /// time is not restarted: the load fails with the reason.
    func start() async throws(PluginLoadError) -> PluginWire.Handshake {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                state.withLock { state in
                    state.started = continuation
                    state.supervisor = Task { await self.supervise() }
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
                    guard state.pending[id]?.cancelled == false else {
                        state.pending[id] = nil
                        return CancellationError()
                    }
                    guard !state.stopped else {
                        state.pending[id] = nil
                        return ToolError("the plugin \(name) was unloaded")
                    }
                    state.pending[id]?.frame = request
                    state.pending[id]?.continuation = continuation
                    if let outgoing = state.outgoing {
                        state.pending[id]?.session = state.session
                        outgoing.yield(.frame(request))
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
        state.withLock { Health(running: $0.outgoing != nil, restarts: $0.restarts, lastExit: $0.lastExit) }
    }

    /// Retires this generation: calls still waiting fail, the child's standard input is closed so it exits, and
    /// after a grace period it is killed.
    func stop() async {
        let (supervisor, outgoing, waiting) = state.withLock { state in
            state.stopped = true
            let waiting = state.pending.values.compactMap(\.continuation)
            state.pending = [:]
            return (state.supervisor, state.outgoing, waiting)
        }
        for continuation in waiting { continuation.resume(throwing: ToolError("the plugin \(name) was unloaded")) }
        outgoing?.yield(.close)
        let killer = Task {
            try? await Task.sleep(for: Self.cancelGrace)
            outgoing?.yield(.kill)
            supervisor?.cancel()
        }
        if outgoing == nil { supervisor?.cancel() }
        await supervisor?.value
        killer.cancel()
    }

    // MARK: - Calls given up on

    private func abandon(_ id: Int) {
        let (continuation, outgoing, session) = state.withLock { state -> (CheckedContinuation<JSONValue, any Error>?, AsyncStream<Outgoing>.Continuation?, Int?) in
            guard let pending = state.pending[id] else { return (nil, nil, nil) }
            guard let continuation = pending.continuation else {
                state.pending[id]?.cancelled = true
                return (nil, nil, nil)
            }
            state.pending[id] = nil
            guard let session = pending.session, session == state.session, let outgoing = state.outgoing else { return (continuation, nil, nil) }
            state.abandoned.insert(id)
            return (continuation, outgoing, session)
        }
        continuation?.resume(throwing: CancellationError())
        guard let outgoing, let session else { return }
        outgoing.yield(.frame(PluginWire.notification(method: PluginWire.Method.cancel, params: .object(["id": .number(Double(id))]))))
        _ = DeadlineWatch.shared.add(deadline: .now + Self.cancelGrace) { [self] in
            let stuck = state.withLock { $0.session == session && $0.abandoned.contains(id) }
            guard stuck else { return }
            logger.error(
                "isolated plugin ignored a cancelled call; killing its process", metadata: ["plugin": "\(name)", "grace": "\(Self.cancelGrace)"])
            outgoing.yield(.kill)
        }
    }

    // MARK: - The child's lifetime

    private func supervise() async {
        var failures = 0
        while true {
            let began = ContinuousClock.now
            let exit = await runSession()
            let (stopped, started, wasUp) = state.withLock { state in
                state.lastExit = exit
                let started = state.handshake == nil ? state.started : nil
                if started != nil { state.started = nil }
                return (state.stopped, started, state.handshake != nil)
            }
            if let started {
                started.resume(throwing: PluginLoadError("the isolated plugin host did not start: \(exit)"))
                return
            }
            if stopped { return }
            _ = wasUp
            failures = ContinuousClock.now - began > .seconds(30) ? 1 : failures + 1
            let delay = min(Self.maxBackoff, .milliseconds(100) * (1 << min(failures - 1, 9)))
            state.withLock { $0.restarts += 1 }
            logger.error("isolated plugin stopped; restarting", metadata: ["plugin": "\(name)", "exit": "\(exit)", "in": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { return }
            if state.withLock({ $0.stopped }) { return }
        }
    }

    /// One child, from start to exit; returns how it ended.
    private func runSession() async -> String {
        let session = state.withLock { state in
            state.session += 1
            return state.session
        }
        let (stream, outgoing) = AsyncStream.makeStream(of: Outgoing.self)
        let notes = SessionNotes()
        let outcome: String
        do {
            let result = try await Subprocess.run(
                .path(FilePath(launch.executable)), arguments: Arguments(launch.arguments), environment: .custom([:]), input: .inputWriter,
                output: .sequence, error: .sequence
            ) { execution in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let writer = execution.standardInputWriter
                        var open = true
                        for await item in stream {
                            switch item {
                            case .frame(let bytes) where open:
                                do { _ = try await writer.write(bytes) } catch { open = false }
                            case .frame:
                                break
                            case .close:
                                open = false
                                try? await writer.finish()
                            case .kill:
                                try? execution.send(signal: .kill)
                            }
                        }
                        if open { try? await writer.finish() }
                    }
                    group.addTask {
                        var splitter = LineSplitter(maxLineBytes: 2000)
                        let record = { (line: String) in
                            notes.tail.withLock { tail in
                                tail.append(line)
                                if tail.count > 40 { tail.removeFirst() }
                            }
                            self.logger.warning("isolated plugin wrote to stderr", metadata: ["plugin": "\(self.name)", "line": "\(line)"])
                        }
                        do {
                            for try await buffer in execution.standardError {
                                for line in buffer.withUnsafeBytes({ splitter.append($0) }) { record(line) }
                            }
                        } catch {}
                        if let rest = splitter.finish() { record(rest) }
                    }
                    outgoing.yield(.frame(PluginWire.request(id: 0, method: PluginWire.Method.initialize, params: launch.initialize.json)))
                    var reader = PluginWire.FrameReader()
                    do {
                        for try await buffer in execution.standardOutput {
                            buffer.withUnsafeBytes { reader.append($0) }
                            while let json = try reader.next() { try receive(PluginWire.message(json), session: session, outgoing: outgoing) }
                        }
                    } catch {
                        notes.protocolFailure.withLock { $0 = "\(error)" }
                        logger.error("isolated plugin broke the protocol; killing its process", metadata: ["plugin": "\(name)", "error": "\(error)"])
                    }
                    outgoing.yield(.kill)
                    outgoing.finish()
                    await group.waitForAll()
                }
            }
            outcome = Self.describe(result.terminationStatus)
        } catch {
            outcome = "the sandbox could not be started (\(error))"
        }
        outgoing.finish()
        let lastLines = notes.tail.withLock { $0 }
        var exit = notes.protocolFailure.withLock { $0 }.map { "\(outcome) after a protocol error: \($0)" } ?? outcome
        if let cause = Self.cause(in: lastLines) { exit += "; it said: \(cause)" }
        let failed = state.withLock { state -> [CheckedContinuation<JSONValue, any Error>] in
            if state.session == session { state.outgoing = nil }
            state.abandoned = []
            var failed: [CheckedContinuation<JSONValue, any Error>] = []
            for (id, pending) in state.pending where pending.session == session {
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

    private func receive(_ message: PluginWire.Message, session: Int, outgoing: AsyncStream<Outgoing>.Continuation) throws {
        switch message {
        case .response(0, .success(let result)):
            let handshake = try PluginWire.Handshake(result)
            do {
                try PluginLoader.check(handshake.metadata, name: name)
            } catch {
                throw PluginWire.ProtocolError(error.message)
            }
            let started = state.withLock { state in
                state.handshake = state.handshake ?? handshake
                state.outgoing = outgoing
                for (id, pending) in state.pending where pending.session == nil && pending.continuation != nil {
                    state.pending[id]?.session = session
                    outgoing.yield(.frame(pending.frame))
                }
                defer { state.started = nil }
                return state.started
            }
            started?.resume(returning: handshake)
        case .response(0, .failure(let error)):
            throw PluginWire.ProtocolError("initialize failed: \(error.message)")
        case .response(let id, let result):
            let continuation = state.withLock { state in
                state.abandoned.remove(id)
                return state.pending.removeValue(forKey: id)?.continuation
            }
            continuation?.resume(with: result.mapError { $0.thrown })
        case .request(let id, let method, let params):
            Task {
                let result = await serve(method, params)
                outgoing.yield(.frame(PluginWire.response(id: id, result: result)))
            }
        case .notification(PluginWire.Method.log, let params):
            let level = params["level"]?.stringValue.flatMap(PluginLogLevel.init(rawValue:)) ?? .info
            var metadata: [String: String] = [:]
            if case .object(let members)? = params["metadata"] { for (key, value) in members { metadata[key] = value.stringValue ?? value.jsonText } }
            services.log(level, params["message"]?.stringValue ?? "", metadata: metadata)
        case .notification:
            break
        }
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

/// What one session of the child left behind for the account of how it ended.
private final class SessionNotes: Sendable {
    /// The last lines the child wrote to standard error.
    let tail = Mutex<[String]>([])
    let protocolFailure = Mutex<String?>(nil)
}
