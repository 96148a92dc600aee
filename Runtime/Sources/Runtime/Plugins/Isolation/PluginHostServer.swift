import CSandbox
import Foundation
import Glibc
import PluginAPI
import Synchronization

/// The inside of `swiftlet plugin-host`: serves one plugin to the gateway over ``PluginWire``, in the sandbox the
/// gateway built for it.
///
/// Before any plugin code runs (its static initialisers run when it is mapped), the host lowers its own limits:
/// address space to what it uses now plus the entry's `memory_mb`, no core files, 256 open files; and, unless
/// `exec` is granted, a seccomp filter that refuses to start programs or processes. None of them can be raised
/// again by the plugin (the sandbox dropped every capability).
public final class PluginHostServer: Sendable {
    private struct State {
        var plugin: (any ToolPlugin)?
        var context: SandboxedPluginContext?
        var calls: [Int: Task<Void, Never>] = [:]
        var waiting: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
        var nextID = 0
    }

    private let input: Int32
    private let output: Int32
    private let state = Mutex(State())
    private let writeLock = Mutex(())

    private init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    /// Serves on standard input and output until the gateway closes standard input.
    ///
    /// The protocol's two descriptors are moved aside first and standard output is pointed at standard error, so a
    /// plugin that prints cannot corrupt a frame: its text reaches the gateway's log instead.
    public static func serve() async {
        let input = dup(STDIN_FILENO)
        let output = dup(STDOUT_FILENO)
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 {
            dup2(null, STDIN_FILENO)
            close(null)
        }
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let server = PluginHostServer(input: input, output: output)
        // Blocking reads belong on a thread of their own, not on the cooperative pool.
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                server.readLoop()
                finished.resume()
            }
            thread.name = "plugin-host-reader"
            thread.start()
        }
    }

    private func readLoop() {
        var reader = PluginWire.FrameReader()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            buffer.withUnsafeBytes { reader.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            do {
                while let json = try reader.next() { handle(try PluginWire.message(json)) }
            } catch {
                FileHandle.standardError.write(Data("plugin-host: \(error); stopping\n".utf8))
                return
            }
        }
    }

    private func handle(_ message: PluginWire.Message) {
        switch message {
        case .request(let id, PluginWire.Method.initialize, let params):
            send(PluginWire.response(id: id, result: initialize(params)))
        case .request(let id, PluginWire.Method.invoke, let params):
            invoke(id: id, params)
        case .request(let id, let method, _):
            send(PluginWire.response(id: id, result: .failure(.init(kind: .protocolError, message: "unknown method \(method)"))))
        case .notification(PluginWire.Method.cancel, let params):
            if let id = params["id"]?.intValue { state.withLock { $0.calls[id] }?.cancel() }
        case .notification:
            break
        case .response(let id, let result):
            state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(with: result.mapError { $0.thrown })
        }
    }

    private func initialize(_ params: JSONValue) -> Result<JSONValue, PluginWire.RemoteError> {
        guard state.withLock({ $0.plugin == nil }) else { return .failure(.init(kind: .protocolError, message: "already initialized")) }
        do {
            let setup = try PluginWire.Initialize(params)
            try Self.lowerLimits(memoryMB: setup.memoryMB, exec: setup.exec)
            let (plugin, metadata) = try PluginLoader.open(URL(fileURLWithPath: setup.plugin), name: setup.name)
            guard let toolPlugin = plugin as? any ToolPlugin else {
                throw PluginLoadError("channel plugins cannot run isolated yet; only tool plugins are served")
            }
            let context = SandboxedPluginContext(setup: setup, server: self)
            state.withLock {
                $0.plugin = toolPlugin
                $0.context = context
            }
            return .success(PluginWire.Handshake(metadata: metadata, functions: toolPlugin.functions).json)
        } catch {
            return .failure(.init(kind: .error, message: "\(error)"))
        }
    }

    private func invoke(id: Int, _ params: JSONValue) {
        let (plugin, context) = state.withLock { ($0.plugin, $0.context) }
        guard let plugin, let context else {
            send(PluginWire.response(id: id, result: .failure(.init(kind: .protocolError, message: "invoke before initialize"))))
            return
        }
        let invocation: ToolInvocation
        do {
            invocation = try PluginWire.invocation(params)
        } catch {
            send(PluginWire.response(id: id, result: .failure(.init(kind: .protocolError, message: "\(error)"))))
            return
        }
        // The task is registered before it can finish, so its own removal always finds it.
        state.withLock { state in
            state.calls[id] = Task {
                let result: Result<JSONValue, PluginWire.RemoteError>
                do {
                    result = .success(.string(try await plugin.invoke(invocation, context: context)))
                } catch {
                    result = .failure(PluginWire.RemoteError(error))
                }
                _ = self.state.withLock { $0.calls.removeValue(forKey: id) }
                self.send(PluginWire.response(id: id, result: result))
            }
        }
    }

    /// Asks the gateway to do what the sandbox keeps from the plugin (store, HTTP).
    func ask(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        let id = state.withLock { state in
            state.nextID = state.nextID == Int(Int32.max) ? 1 : state.nextID + 1
            return state.nextID
        }
        return try await withCheckedThrowingContinuation { continuation in
            state.withLock { $0.waiting[id] = continuation }
            send(PluginWire.request(id: id, method: method, params: params))
        }
    }

    func notify(_ method: String, _ params: JSONValue) {
        send(PluginWire.notification(method: method, params: params))
    }

    private func send(_ frame: [UInt8]) {
        writeLock.withLock { _ in
            var offset = 0
            while offset < frame.count {
                let written = frame.withUnsafeBytes { write(output, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0, errno == EINTR { continue }
                // The gateway is gone: nothing is left to serve.
                guard written > 0 else { exit(0) }
                offset += written
            }
        }
    }

    /// The limits applied to this process before the plugin is mapped.
    static func lowerLimits(memoryMB: Int, exec: Bool) throws(PluginLoadError) {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let usedBytes = (Int(statm.split(separator: " ").first ?? "") ?? 0) * pageSize
        let addressSpace = rlim_t(usedBytes + memoryMB << 20)
        for (resource, value) in [(RLIMIT_AS, addressSpace), (RLIMIT_CORE, 0), (RLIMIT_NOFILE, 256)] {
            var limit = rlimit(rlim_cur: value, rlim_max: value)
            guard setrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0 else {
                throw PluginLoadError("setrlimit failed: \(String(cString: strerror(errno)))")
            }
        }
        if !exec {
            let failure = swiftlet_sandbox_deny_new_processes()
            guard failure == 0 else { throw PluginLoadError("cannot install the seccomp filter that denies exec: \(String(cString: strerror(failure)))") }
        }
    }
}

/// The ``PluginContext`` inside the sandbox: files directly (only the whitelisted roots are mounted, and the same
/// checks as in-process apply first), the store and HTTP through the gateway, environment and secrets from what
/// the gateway sent (only whitelisted names).
struct SandboxedPluginContext: PluginContext {
    let pluginName: String
    let configuration: String
    let files: any PluginFiles
    let http: any PluginHTTPClient
    let store: any PluginKeyValueStore
    let inbound: any InboundSink
    private let environmentValues: [String: String?]
    private let secretValues: [String: String?]
    private let server: PluginHostServer

    init(setup: PluginWire.Initialize, server: PluginHostServer) {
        pluginName = setup.name
        configuration = setup.configuration
        files = PluginFileAccess(workspace: URL(fileURLWithPath: setup.workspace), readableRoots: setup.readableRoots, writableRoots: setup.writableRoots)
        http = RemoteHTTP(server: server)
        store = RemoteStore(server: server)
        inbound = RefusingInboundSink(plugin: setup.name)
        environmentValues = setup.environment
        secretValues = setup.secrets
        self.server = server
    }

    func log(_ level: PluginLogLevel, _ message: String, metadata: [String: String]) {
        server.notify(
            PluginWire.Method.log, .object(["level": .string(level.rawValue), "message": .string(message), "metadata": .object(metadata.mapValues(JSONValue.string))]))
    }

    func secret(_ name: String) throws -> String {
        guard let entry = secretValues[name] else { throw PluginAccessDenied(permission: "secrets", subject: name) }
        guard let value = entry, !value.isEmpty else {
            throw HostPluginContext.unset(secret: name)
        }
        return value
    }

    func environment(_ name: String) throws -> String? {
        guard let entry = environmentValues[name] else { throw PluginAccessDenied(permission: "env", subject: name) }
        return entry
    }

    func hmacSHA256(key: Data, message: Data) -> Data { HostPluginContext.hmacSHA256(key: key, message: message) }

    private struct RemoteHTTP: PluginHTTPClient {
        let server: PluginHostServer

        func send(_ request: PluginHTTPRequest) async throws -> PluginHTTPResponse {
            try PluginWire.httpResponse(try await server.ask(PluginWire.Method.httpSend, PluginWire.json(request)))
        }
    }

    private struct RemoteStore: PluginKeyValueStore {
        let server: PluginHostServer

        func get(_ key: String) async throws -> String? {
            try await server.ask(PluginWire.Method.storeGet, .object(["key": .string(key)]))["value"]?.stringValue
        }

        func set(_ key: String, _ value: String) async throws {
            _ = try await server.ask(PluginWire.Method.storeSet, .object(["key": .string(key), "value": .string(value)]))
        }

        func remove(_ key: String) async throws {
            _ = try await server.ask(PluginWire.Method.storeRemove, .object(["key": .string(key)]))
        }
    }
}
