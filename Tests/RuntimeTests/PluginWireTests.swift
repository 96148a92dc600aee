import Foundation
import PluginAPI
import Testing

@testable import Runtime

@Suite("Isolated plugins: the wire protocol, the sandbox plan, the child's last words")
struct PluginWireTests {
    static func feed(_ bytes: [UInt8], into reader: inout PluginWire.FrameReader) {
        bytes.withUnsafeBytes { reader.append($0) }
    }

    @Test("frames survive any split across reads, several per read included")
    func framing() throws {
        let first = PluginWire.request(id: 7, method: PluginWire.Method.invoke, params: .object(["function": .string("echo"), "arguments": .string("{\"text\":\"é\\n\"}")]))
        let second = PluginWire.response(id: 7, result: .success(.string("done")))
        let stream = first + second
        for split in 0...stream.count {
            var reader = PluginWire.FrameReader()
            var messages: [PluginWire.Message] = []
            for part in [Array(stream[..<split]), Array(stream[split...])] {
                Self.feed(part, into: &reader)
                while let json = try reader.next() { messages.append(try PluginWire.message(json)) }
            }
            #expect(messages.count == 2, "split at \(split)")
            #expect(messages.first == .request(id: 7, method: "invoke", params: .object(["function": .string("echo"), "arguments": .string("{\"text\":\"é\\n\"}")])))
            #expect(messages.last == .response(id: 7, result: .success(.string("done"))))
        }
    }

    @Test("an oversized frame, a frame that is not JSON and a message that is not JSON-RPC are protocol errors")
    func brokenPeers() throws {
        var huge = PluginWire.FrameReader()
        Self.feed([0x7F, 0xFF, 0xFF, 0xFF], into: &huge)
        #expect(throws: PluginWire.ProtocolError.self) { try huge.next() }
        var garbage = PluginWire.FrameReader()
        Self.feed([0, 0, 0, 3] + Array("{no".utf8), into: &garbage)
        #expect(throws: PluginWire.ProtocolError.self) { try garbage.next() }
        #expect(throws: PluginWire.ProtocolError.self) { try PluginWire.message(.object(["id": .number(1), "result": .null])) }
        #expect(throws: PluginWire.ProtocolError.self) { try PluginWire.message(.object(["jsonrpc": .string("2.0"), "result": .null])) }
        // Half a frame is not an error: it waits for the rest.
        var partial = PluginWire.FrameReader()
        Self.feed([0, 0, 0, 10, UInt8(ascii: "{")], into: &partial)
        #expect(try partial.next() == nil)
    }

    @Test("errors keep their kind across the boundary, so the model reads the same message as in-process")
    func errors() throws {
        let denied = PluginWire.RemoteError(PluginAccessDenied(permission: "network", subject: "example.com:443"))
        let back = PluginWire.RemoteError(denied.json)
        #expect(back == denied)
        #expect((back.thrown as? PluginAccessDenied) == PluginAccessDenied(permission: "network", subject: "example.com:443"))
        #expect((PluginWire.RemoteError(PluginWire.RemoteError(ToolFailure("no such city")).json).thrown as? ToolFailure)?.message == "no such city")
        #expect(PluginWire.RemoteError(PluginWire.RemoteError(CancellationError()).json).thrown is CancellationError)
    }

    @Test("initialize, handshake, invocation and HTTP messages read back what was written")
    func messages() throws {
        let setup = PluginWire.Initialize(
            plugin: "/data/plugins/x/g1-libX.so", name: "x", configuration: #"{"a":1}"#, workspace: "/ws", readableRoots: ["/ws/knowledge", "/ws/notes"],
            writableRoots: ["/ws/notes"], environment: ["LANGUAGE": "de", "UNSET": nil], secrets: ["api_key": "k", "missing": nil], memoryMB: 128,
            exec: false)
        #expect(try PluginWire.Initialize(setup.json) == setup)
        let handshake = PluginWire.Handshake(
            metadata: PluginMetadata(name: "x", version: "1.2.3", kind: .tool), functions: [ToolFunction(name: "x_do", description: "Does.", parameters: #"{"type":"object"}"#)])
        #expect(try PluginWire.Handshake(handshake.json) == handshake)
        let invocation = ToolInvocation(function: "x_do", arguments: #"{"q":"?"}"#, messageID: "m", sessionID: "s", channel: "web", sender: "owner")
        let read = try PluginWire.invocation(PluginWire.json(invocation))
        #expect(
            read.function == "x_do" && read.arguments == invocation.arguments && read.messageID == "m" && read.sessionID == "s" && read.channel == "web"
                && read.sender == "owner")
        let request = PluginHTTPRequest(method: "POST", url: "https://api.example.com/v1", headers: [("Accept", "application/json")], body: Data([0, 1, 255]))
        let readRequest = try PluginWire.httpRequest(PluginWire.json(request))
        #expect(readRequest.method == "POST" && readRequest.url == request.url && readRequest.body == Data([0, 1, 255]) && readRequest.headers.first?.name == "Accept")
        let response = PluginHTTPResponse(status: 201, headers: [("Content-Type", "text/plain")], body: Data("ok".utf8))
        let readResponse = try PluginWire.httpResponse(PluginWire.json(response))
        #expect(readResponse.status == 201 && readResponse.body == Data("ok".utf8) && readResponse.header("content-type") == "text/plain")
        // Whatever limit a child asks for becomes a sane one: no trap on huge or non-finite numbers.
        for asked in [1e19, .infinity, -.infinity, .nan, -5] as [Double] {
            #expect((0...(PluginWire.maxFrameBytes / 2)).contains(PluginWire.responseLimit(asked)), "\(asked)")
        }
        #expect(PluginWire.responseLimit(1000) == 1000 && PluginWire.responseLimit(nil) == 4 << 20)
    }

    @Test("the sandbox: namespaces unshared, capabilities dropped, parents mounted before children, root read-only, command last")
    func sandboxPlan() {
        var plan = SandboxPlan(command: ["/opt/swiftlet", "plugin-host"])
        let system = SandboxPlan.system { $0 == "/lib" ? "usr/lib" : nil }
        #expect(system.readOnly == ["/usr", "/bin", "/lib64", "/sbin"] && system.symlinks == [SandboxPlan.Link(target: "usr/lib", link: "/lib")])
        plan.readOnly = ["/ws/notes/archive", "/ws", "/usr"]
        plan.readWrite = ["/ws/notes/"]
        let arguments = plan.arguments
        #expect(Array(arguments.prefix(6)) == ["--unshare-all", "--new-session", "--cap-drop", "ALL", "--clearenv", "--setenv"])
        // Not tied to the thread that started it (see SandboxPlan.dieWithParent).
        #expect(!arguments.contains("--die-with-parent"))
        #expect(!arguments.contains("--share-net"))
        let mounts = stride(from: 0, to: arguments.count, by: 1).filter { arguments[$0].hasSuffix("bind-try") }.map { "\(arguments[$0]) \(arguments[$0 + 1])" }
        #expect(mounts == ["--ro-bind-try /ws", "--ro-bind-try /usr", "--bind-try /ws/notes", "--ro-bind-try /ws/notes/archive"])
        #expect(Array(arguments.suffix(7)) == ["--remount-ro", "/", "--chdir", "/", "--", "/opt/swiftlet", "plugin-host"])
        #expect(arguments.firstIndex(of: "--tmpfs")! < arguments.firstIndex(of: "--ro-bind-try")!)
        plan.shareNetwork = true
        #expect(plan.arguments.contains("--share-net"))
    }

    @Test("the library folders of a process come from its memory map, each once")
    func libraryDirectories() {
        let maps = """
            55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1 /work/.build/debug/swiftlet
            7f00000000-7f00001000 r-xp 00000000 08:01 2 /opt/swift/usr/lib/swift/linux/libswiftCore.so
            7f00002000-7f00003000 r--p 00000000 08:01 2 /opt/swift/usr/lib/swift/linux/libswiftCore.so
            7f00004000-7f00005000 r--p 00000000 08:01 3 /work/.build/debug/libPluginAPI.so
            7f00006000-7f00007000 r--p 00000000 08:01 4 /usr/lib/x86_64-linux-gnu/libc.so.6
            7f00008000-7f00009000 rw-p 00000000 00:00 0 [heap]
            7f0000a000-7f0000b000 r--p 00000000 08:01 5 /lib/x86_64-linux-gnu/libz.so.1
            7f0000c000-7f0000d000 r--p 00000000 08:01 6 /home/me/.sonar/cache/index
            """
        #expect(SandboxPlan.libraryDirectories(maps: maps) == ["/opt/swift/usr/lib/swift/linux", "/work/.build/debug"])
    }

    @Test("stderr lines are capped, never held whole; the crash cause is picked from the child's last words")
    func lastWords() {
        var splitter = LineSplitter(maxLineBytes: 8)
        let endless = Array(repeating: UInt8(ascii: "x"), count: 100_000)
        #expect(splitter.append(endless).isEmpty)
        #expect(splitter.append(Array("y\nshort\n".utf8)) == ["xxxxxxxx…", "short"])
        #expect(splitter.append(Array("0123456789".utf8)).isEmpty)
        #expect(splitter.finish() == "01234567…")
        let crash = [
            "Plugin.swift:88: Fatal error: index out of range", "Current stack trace:", "0    libswiftCore.so   0x00007 swift_reportError + 33",
            "1    libswiftCore.so   0x00007 <unavailable>",
        ]
        #expect(IsolatedPlugin.cause(in: crash) == "Plugin.swift:88: Fatal error: index out of range")
        #expect(IsolatedPlugin.cause(in: ["starting", "connected to nothing", "3    libc.so.6  0x1"]) == "connected to nothing")
        #expect(IsolatedPlugin.cause(in: []) == nil)
    }
}
