import Foundation
import Testing

@testable import Runtime

/// The pure decisions of skill runs: the command line, the meaning of an ending, the proxy's requests, test cases.
@Suite("Skills: launch plan, outcomes, egress requests, test cases")
struct SkillPlanTests {
    static let host = SkillLaunch.Host(
        bubblewrap: "/usr/bin/bwrap", launcher: "/opt/swiftlet/swiftlet-skill-launch", systemReadOnly: ["/usr", "/etc/alternatives"],
        systemLinks: [SandboxPlan.Link(target: "usr/bin", link: "/bin")], loaders: ["/usr/lib/ld.so"])

    static func skill(exec: Bool = false) -> SkillLaunch.Skill {
        SkillLaunch.Skill(
            name: "faq", folder: "/ws/skills/faq", interpreter: "/usr/bin/python3", interpreterFile: "/usr/bin/python3.11", interpreterArguments: ["-E"],
            script: "/ws/skills/faq/main.py", environmentFolder: nil, readableRoots: ["/ws/knowledge", "/ws/notes"], writableRoots: ["/ws/notes"],
            limits: ToolsFile.SkillLimits(), memoryMB: 256, exec: exec, workspace: "/ws")
    }

    @Test("as root: no user namespace, CAP_SETUID/SETGID kept for the launcher, which drops to the uid; folders to mounts made 0755")
    func rootPlan() {
        let launch = SkillLaunch(skill: Self.skill(), host: Self.host, uid: 1_800_000_001, proxySocket: nil, environment: [("API_KEY", "s3cret")])
        let arguments = launch.arguments
        #expect(launch.executable == "/usr/bin/bwrap")
        #expect(!arguments.contains("--unshare-all") && arguments.contains("--unshare-pid") && arguments.contains("--unshare-net"))
        #expect(arguments.contains("--die-with-parent"))
        #expect(arguments.joined(separator: " ").contains("--cap-drop ALL --cap-add CAP_SETUID --cap-add CAP_SETGID"))
        #expect(arguments.joined(separator: " ").contains("--perms 1777 --tmpfs /tmp"))
        #expect(arguments.joined(separator: " ").contains("--perms 0755 --dir /ws --ro-bind-try /ws/knowledge /ws/knowledge"))
        #expect(arguments.joined(separator: " ").contains("--perms 0755 --dir /ws/skills --ro-bind-try /ws/skills/faq /ws/skills/faq"))
        #expect(arguments.joined(separator: " ").contains("--ro-bind-try /ws/knowledge /ws/knowledge"))
        #expect(arguments.joined(separator: " ").contains("--bind-try /ws/notes /ws/notes") && !arguments.joined(separator: " ").contains("--ro-bind-try /ws/notes"))
        // The environment (secrets included) is bwrap's own, never its command line, which every user can read.
        #expect(!arguments.contains { $0.contains("s3cret") } && !arguments.contains("--setenv") && !arguments.contains("--clearenv"))
        #expect(launch.environment.contains { $0 == ("API_KEY", "s3cret") } && launch.environment.contains { $0 == ("HOME", "/tmp") })
        #expect(arguments.joined(separator: " ").contains("--dev /dev --perms 1777 --size 16777216 --tmpfs /dev/shm"))
        #expect(arguments.joined(separator: " ").contains("--remount-ro /dev --remount-ro /"))
        let command = Array(arguments.drop { $0 != "--" }.dropFirst())
        #expect(
            command == [
                "/opt/swiftlet/swiftlet-skill-launch", "--uid", "1800000001", "--gid", "1800000000", "--umask", "002", "--limit", "core=0", "--limit", "cpu=10", "--limit",
                "as=268435456", "--limit", "fsize=16777216", "--limit", "nofile=64", "--limit", "nproc=32", "--exec-only", "/usr/bin/python3.11",
                "--exec-only", "/usr/lib/ld.so", "--", "/usr/bin/python3", "-E", "/ws/skills/faq/main.py",
            ])
    }

    @Test("not root: a user namespace, every capability dropped, no uid switch; exec granted: no exec rule; egress: proxy relay and variables")
    func userPlan() {
        let launch = SkillLaunch(skill: Self.skill(exec: true), host: Self.host, uid: nil, proxySocket: "/tmp/e/proxy.sock", environment: [])
        let text = launch.arguments.joined(separator: " ")
        #expect(text.hasPrefix("--unshare-all --die-with-parent --new-session --cap-drop ALL --proc /proc"))
        #expect(!text.contains("--share-net") && !text.contains("--cap-add") && !text.contains("--uid") && !text.contains("--exec-only"))
        #expect(text.contains("--proxy 3128:/tmp/e/proxy.sock") && text.contains("--ro-bind-try /tmp/e/proxy.sock /tmp/e/proxy.sock"))
        #expect(launch.environment.contains { $0 == ("HTTPS_PROXY", "http://127.0.0.1:3128") } && launch.environment.contains { $0 == ("http_proxy", "http://127.0.0.1:3128") })
    }

    static func ended(_ ending: SkillProcess.Result.Ending, output: String = "", errors: [String] = [], timedOut: Bool = false, exceeded: Bool = false)
        -> Result<String, ToolError>
    {
        SkillOutcome.result(
            SkillProcess.Result(
                ending: ending, output: Array(output.utf8), errorTail: errors, timedOut: timedOut, outputExceeded: exceeded, cancelled: false,
                elapsed: .zero), skill: "s", limits: ToolsFile.SkillLimits(), timeoutSeconds: 30, memoryMB: 512)
    }

    @Test("endings map to what the model is told")
    func outcomes() {
        #expect(Self.ended(.exited(0), output: "{\"a\": 1}\n") == .success("{\"a\": 1}"))
        #expect(Self.ended(.exited(0)) == .success("(the skill s printed nothing)"))
        #expect(
            Self.ended(.exited(1), errors: ["Traceback (most recent call last):", "  File \"main.py\", line 1", "KeyError: 'question'"])
                == .failure(ToolError("the skill s failed with exit status 1; it said: KeyError: 'question'")))
        #expect(Self.ended(.exited(128 + 24)) == .failure(ToolError("the skill s used up its CPU time (limits.cpu_seconds 10) and was stopped")))
        #expect(Self.ended(.signaled(25)) == .failure(ToolError("the skill s tried to write a file larger than limits.file_size_mb (16 MB) and was stopped")))
        #expect(
            Self.ended(.exited(125), errors: ["swiftlet-skill-launch: /usr/bin/python3: No such file or directory"])
                == .failure(ToolError("the skill s could not be started: /usr/bin/python3: No such file or directory")))
        #expect(
            Self.ended(.exited(1), errors: ["bwrap: Can't mount proc on /newroot/proc: Operation not permitted"])
                == .failure(ToolError("the sandbox of the skill s could not be set up: bwrap: Can't mount proc on /newroot/proc: Operation not permitted")))
        #expect(Self.ended(.signaled(9), timedOut: true) == .failure(ToolError(
            "the skill s ran past its time limit (30 s, permissions.timeout_seconds) and was stopped with every process it started")))
        #expect(Self.ended(.signaled(9), output: "xxxx", exceeded: true) == .failure(ToolError(
            "the skill s wrote more than 256 KB to standard output (limits.output_kb) and was stopped")))
    }

    @Test("proxy requests: CONNECT and absolute-form HTTP are understood; anything else is refused")
    func parsing() throws {
        #expect(try EgressRequest.parse("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443")
            == EgressRequest(host: "api.example.com", port: 443, tunnel: true, forwardedHead: nil))
        #expect(try EgressRequest.parse("CONNECT [2001:db8::1]:8443 HTTP/1.1") == EgressRequest(host: "2001:db8::1", port: 8443, tunnel: true, forwardedHead: nil))
        #expect(try EgressRequest.parse("GET http://Example.COM/a/b?c=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*")
            == EgressRequest(host: "example.com", port: 80, tunnel: false, forwardedHead: "GET /a/b?c=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*"))
        #expect(try EgressRequest.parse("POST http://example.com:8080 HTTP/1.0").forwardedHead == "POST / HTTP/1.0")
        for bad in ["GET /relative HTTP/1.1", "CONNECT example.com HTTP/1.1", "GET https://example.com/ HTTP/1.1", "CONNECT user@evil:443 HTTP/1.1",
            "CONNECT example.com:0 HTTP/1.1", "garbage", "GET http://exa mple.com/ HTTP/1.1"]
        {
            #expect(throws: EgressRequest.Refusal.self, "\(bad)") { try EgressRequest.parse(bad) }
        }
    }

    @Test("proxy decisions: the grant, private addresses, and the address connected to")
    func decisions() {
        var grant = PermissionSet()
        grant.network = ["api.example.com:443", "*.cdn.example.com:443", "127.0.0.1:9000", "localhost:9001"].compactMap(EgressRule.init)
        func decide(_ host: String, _ port: Int, _ resolved: [String] = []) -> Result<String, EgressDenied> {
            EgressRequest.decide(EgressRequest(host: host, port: port, tunnel: true, forwardedHead: nil), permissions: grant, resolved: resolved)
        }
        #expect(decide("api.example.com", 443, ["93.184.216.34", "2606:2800::1"]) == .success("93.184.216.34"))
        #expect(decide("img.cdn.example.com", 443, ["93.184.216.35"]) == .success("93.184.216.35"))
        #expect(decide("api.example.com", 80, ["93.184.216.34"]).failureStatus == 403)
        #expect(decide("evil.com", 443, ["6.6.6.6"]).failureStatus == 403)
        // DNS pointing inside is refused unless the address is listed itself.
        #expect(decide("api.example.com", 443, ["93.184.216.34", "10.0.0.5"]).failureStatus == 403)
        #expect(decide("api.example.com", 443, []).failureStatus == 502)
        #expect(decide("127.0.0.1", 9000) == .success("127.0.0.1"))
        #expect(decide("localhost", 9001) == .success("127.0.0.1"))
        #expect(decide("127.0.0.1", 9001).failureStatus == 403)
    }

    @Test("skill test cases parse strictly and judge outcomes")
    func testCases() throws {
        let test = try SkillTestCase.parse(name: "t.json", text: #"{"input": {"q": 1}, "expect": {"contains": ["a", "b"], "not_contains": "Traceback"}}"#)
        #expect(test.input == .object(["q": .number(1)]) && test.contains == ["a", "b"] && test.notContains == ["Traceback"] && !test.expectsError)
        #expect(test.failures(.success("a b")).isEmpty)
        #expect(test.failures(.success("a")) == ["missing \"b\""])
        #expect(test.failures(.failure(ToolError("a b"))) == ["failed: a b"])
        let failing = try SkillTestCase.parse(name: "e.json", text: #"{"expect": {"error": true, "contains": "exit status 2"}}"#)
        #expect(failing.failures(.failure(ToolError("failed with exit status 2"))).isEmpty)
        #expect(failing.failures(.success("fine")).count == 2)
        #expect(throws: ToolError.self) { try SkillTestCase.parse(name: "x.json", text: #"{"expect": {"contain": "typo"}}"#) }
        #expect(throws: (any Error).self) { try SkillTestCase.parse(name: "x.json", text: "[1]") }
    }

    @Test("folders leading to a mount point are listed parents first")
    func ancestors() {
        #expect(SandboxPlan.ancestors("/a/b/c") == ["/a", "/a/b"])
        #expect(SandboxPlan.ancestors("/a").isEmpty)
    }
}

extension Result where Failure == EgressDenied {
    var failureStatus: Int? {
        if case .failure(let denied) = self { return denied.status }
        return nil
    }
}
