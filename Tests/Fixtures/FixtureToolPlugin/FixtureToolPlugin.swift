import Foundation
import Glibc
import PluginAPI

/// A tool plugin for the loader and permission tests: each function exercises one part of the context.
struct FixtureToolPlugin: ToolPlugin {
    let metadata = PluginMetadata(name: "fixture_tools", version: "0.0.1", kind: .tool)

    let functions = [
        ToolFunction(name: "fixture_echo", description: "Returns its text argument.", parameters: #"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#),
        ToolFunction(name: "fixture_read", description: "Reads a file through the context.", parameters: #"{"type":"object","properties":{"path":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_write", description: "Writes a file through the context.", parameters: #"{"type":"object","properties":{"path":{"type":"string"},"text":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_fetch", description: "GETs a URL through the context.", parameters: #"{"type":"object","properties":{"url":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_env", description: "Reads an environment variable.", parameters: #"{"type":"object","properties":{"name":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_secret", description: "Reads a secret.", parameters: #"{"type":"object","properties":{"name":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_count", description: "Counts calls in the key-value store.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_noop", description: "Does nothing: the benchmark of the call path.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_hang", description: "Never returns and ignores cancellation.", parameters: #"{"type":"object","properties":{}}"#),
        // Bypassing the context, as hostile or careless code would: only the sandbox stops these.
        ToolFunction(name: "fixture_raw_read", description: "Reads a file with FileManager.", parameters: #"{"type":"object","properties":{"path":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_raw_write", description: "Writes a file with FileManager.", parameters: #"{"type":"object","properties":{"path":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_raw_connect", description: "Opens a TCP connection to 127.0.0.1:port with a socket.", parameters: #"{"type":"object","properties":{"port":{"type":"integer"}}}"#),
        ToolFunction(name: "fixture_raw_env", description: "Reads an environment variable with getenv.", parameters: #"{"type":"object","properties":{"name":{"type":"string"}}}"#),
        ToolFunction(name: "fixture_spawn", description: "Runs /bin/true with posix_spawn.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_crash", description: "Calls fatalError.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_spin", description: "Spins the CPU forever without suspending.", parameters: #"{"type":"object","properties":{}}"#),
        ToolFunction(name: "fixture_allocate", description: "Allocates and touches megabytes of memory.", parameters: #"{"type":"object","properties":{"megabytes":{"type":"integer"}}}"#),
        ToolFunction(name: "fixture_print", description: "Prints to standard output, then answers.", parameters: #"{"type":"object","properties":{}}"#),
    ]

    struct Arguments: Decodable {
        var text: String?
        var path: String?
        var url: String?
        var name: String?
        var port: Int?
        var megabytes: Int?
    }

    func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
        if call.function == "fixture_noop" { return "ok" }
        let arguments = try call.decode(Arguments.self)
        switch call.function {
        case "fixture_echo":
            guard let text = arguments.text else { throw ToolFailure("missing argument 'text'") }
            return "echo: \(text)"
        case "fixture_read":
            return String(decoding: try context.files.read(arguments.path ?? ""), as: UTF8.self)
        case "fixture_write":
            try context.files.write(arguments.path ?? "", Data((arguments.text ?? "").utf8))
            return "written"
        case "fixture_fetch":
            let response = try await context.http.send(PluginHTTPRequest(url: arguments.url ?? ""))
            return "\(response.status): \(String(decoding: response.body, as: UTF8.self))"
        case "fixture_env":
            return try context.environment(arguments.name ?? "") ?? "(unset)"
        case "fixture_secret":
            return "secret has \(try context.secret(arguments.name ?? "").count) characters"
        case "fixture_count":
            let count = (Int(try await context.store.get("count") ?? "0") ?? 0) + 1
            try await context.store.set("count", String(count))
            return "\(count)"
        case "fixture_hang":
            // Waits 3 s whatever happens, deaf to cancellation as a broken plugin would be, without holding a thread.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + 3) { continuation.resume() }
            }
            return "woke up"
        case "fixture_raw_read":
            return try String(contentsOfFile: arguments.path ?? "", encoding: .utf8)
        case "fixture_raw_write":
            try Data("raw".utf8).write(to: URL(fileURLWithPath: arguments.path ?? ""))
            return "written"
        case "fixture_raw_connect":
            return try Self.connect(port: arguments.port ?? 0)
        case "fixture_raw_env":
            return getenv(arguments.name ?? "").map { String(cString: $0) } ?? "(unset)"
        case "fixture_spawn":
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
            defer { free(argv[0]) }
            let result = posix_spawn(&pid, "/bin/true", nil, nil, argv, nil)
            guard result == 0 else { throw ToolFailure("posix_spawn failed: \(String(cString: strerror(result)))") }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return "spawned"
        case "fixture_crash":
            fatalError("fixture_crash was called")
        case "fixture_spin":
            var counter: UInt64 = 0
            while true {
                counter &+= 1
                if counter == 0 { break }
            }
            return "unreachable \(counter)"
        case "fixture_allocate":
            let count = (arguments.megabytes ?? 1) << 20
            guard let memory = malloc(count) else { throw ToolFailure("malloc of \(arguments.megabytes ?? 1) MB failed") }
            defer { free(memory) }
            memset(memory, 1, count)
            return "allocated"
        case "fixture_print":
            // Straight to file descriptor 1, unbuffered, as a careless C library would.
            let text = "stray output from fixture_print\n"
            _ = text.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
            return "printed"
        default:
            throw ToolFailure("unknown function \(call.function)")
        }
    }
}

extension FixtureToolPlugin {
    static func connect(port: Int) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ToolFailure("socket failed: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw ToolFailure("connect failed: \(String(cString: strerror(errno)))") }
        return "connected"
    }
}

@c(swiftlet_plugin_abi_version)
public func abiVersion() -> Int32 { PluginABI.version }

@c(swiftlet_plugin_create)
public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(FixtureToolPlugin()) }
