import Foundation
import Testing

@testable import Runtime

@Suite("tools.json: parsing, validation, permission rules")
struct ToolsFileTests {
    private func parse(_ text: String) throws -> ToolsFile { try ToolsFile.parse(Data(text.utf8)) }

    private func issues(_ text: String) -> [String] {
        do throws(ToolsFile.Invalid) {
            _ = try ToolsFile.parse(Data(text.utf8))
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("a full entry parses into its permission set; an entry without permissions gets none")
    func parsesEntries() throws {
        let file = try parse(
            """
            {"version": 1, "plugins": [
              {"name": "fs", "file": "libFS.so", "sha256": "\(String(repeating: "AB", count: 32))", "isolation": "process", "enabled": false,
               "permissions": {"files": {"read": ["knowledge"], "write": ["notes"]}, "network": ["api.example.com:443", "*.cdn.example.com:*", "[::1]:8080"],
                               "env": ["HOME"], "secrets": ["github_token"], "exec": true, "timeout_seconds": 2.5, "memory_mb": 128},
               "config": {"depth": 3}},
              {"name": "bare", "file": "/opt/bare.so"}
            ], "skills": []}
            """)
        #expect(file.plugins.count == 2)
        let fs = file.plugins[0]
        #expect(fs.sha256 == String(repeating: "ab", count: 32))
        #expect(fs.isolation == .process && !fs.enabled)
        #expect(fs.permissions.read == ["knowledge"] && fs.permissions.write == ["notes"])
        #expect(fs.permissions.network.map(\.description) == ["api.example.com:443", "*.cdn.example.com:*", "[::1]:8080"])
        #expect(fs.permissions.environment == ["HOME"] && fs.permissions.secrets == ["github_token"] && fs.permissions.exec)
        #expect(fs.permissions.timeoutSeconds == 2.5 && fs.permissions.memoryMB == 128)
        #expect(try JSONValue(parsing: fs.configuration) == .object(["depth": .number(3)]))
        #expect(file.plugins[1].permissions == .none && file.plugins[1].isolation == .inProcess && file.plugins[1].enabled)
    }

    @Test("every problem is reported at once, naming the entry and the field")
    func namesEntryAndField() {
        let found = issues(
            """
            {"version": 1, "plugins": [
              {"name": "fs", "file": "libFS.so", "sha256": "xyz", "isolation": "container", "permissions": {"network": ["example.com"], "timeout_seconds": 0, "filez": {}}},
              {"name": "Bad Name", "file": ""},
              {"name": "fs", "file": "other.so", "colour": "red"}
            ]}
            """)
        #expect(
            found == [
                "plugins[0] (fs).sha256: must be 64 hexadecimal digits",
                "plugins[0] (fs).isolation: must be \"in-process\" or \"process\"",
                "plugins[0] (fs).permissions.filez: unknown field (allowed: env, exec, files, memory_mb, network, secrets, timeout_seconds)",
                "plugins[0] (fs).permissions.network[0]: 'example.com' must be host:port (port 1-65535 or *), [ipv6]:port, or *.domain:port",
                "plugins[0] (fs).permissions.timeout_seconds: must be a number of seconds above 0 and at most 3600",
                "plugins[1] (Bad Name).name: must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit",
                "plugins[1] (Bad Name).file: is required: the plugin's .so (a file name in Plugins/ or an absolute path)",
                "plugins[2] (fs).colour: unknown field (allowed: config, description, enabled, file, isolation, name, permissions, sha256)",
            ])
    }

    @Test("a name registered twice, a wrong version and malformed JSON are refused")
    func refusesFileLevelProblems() {
        #expect(issues(#"{"version": 1, "plugins": [{"name": "a", "file": "a.so"}, {"name": "a", "file": "b.so"}]}"#) == ["plugins[1] (a).name: 'a' is registered twice"])
        #expect(issues(#"{"version": 2, "plugins": []}"#) == ["version: must be 1"])
        #expect(issues(#"{"plugins": []}"#) == ["version: is required (1)"])
        #expect(issues(#"{"version": 1, "plugins": {}}"#) == ["plugins: must be an array"])
        #expect(issues("{\"version\": 1, ").first?.hasPrefix("not valid JSON") == true)
    }

    @Test("a missing tools.json is an empty registry; the repository's example validates")
    func missingAndExample() throws {
        #expect(try ToolsFile.load(URL(fileURLWithPath: "/nonexistent/tools.json")) == ToolsFile())
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools.json")
        _ = try ToolsFile.load(example)
    }

    @Test("tools.schema.json allows exactly the fields the parser accepts")
    func schemaAgreesWithParser() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools.schema.json")
        let schema = try JSONValue(parsing: Array(try Data(contentsOf: url)))
        func fields(_ object: JSONValue?) -> Set<String> {
            guard case .object(let properties)? = object?["properties"] else { return [] }
            return Set(properties.keys)
        }
        #expect(fields(schema) == ToolsFile.fileFields)
        #expect(fields(schema["$defs"]?["plugin"]) == ToolsFile.pluginFields)
        #expect(fields(schema["$defs"]?["permissions"]) == ToolsFile.permissionFields)
        #expect(fields(schema["$defs"]?["permissions"]?["properties"]?["files"]) == ToolsFile.fileAccessFields)
        #expect(fields(schema["$defs"]?["skill"]) == ToolsFile.skillFields)
        #expect(fields(schema["$defs"]?["limits"]) == ToolsFile.limitFields)
    }

    @Test("skill entries: defaults, the grant and the limits; every problem named by entry and field")
    func skillEntries() throws {
        let file = try ToolsFile.parse(
            Data(
                #"""
                {"version": 1, "skills": [
                  {"name": "faq", "permissions": {"files": {"read": ["knowledge"]}, "timeout_seconds": 5}, "limits": {"cpu_seconds": 2, "output_kb": 64}},
                  {"name": "tidy", "path": "/opt/skills/tidy", "enabled": false, "sandbox": "none"}
                ]}
                """#.utf8))
        #expect(file.skills.count == 2)
        #expect(file.skills[0].path == "skills/faq" && file.skills[0].sandbox == .bubblewrap && file.skills[0].enabled)
        #expect(file.skills[0].permissions.read == ["knowledge"] && file.skills[0].permissions.timeoutSeconds == 5)
        #expect(file.skills[0].limits.cpuSeconds == 2 && file.skills[0].limits.outputKB == 64 && file.skills[0].limits.processes == 32)
        #expect(file.skills[1].path == "/opt/skills/tidy" && file.skills[1].sandbox == ToolsFile.SkillEntry.Sandbox.none && !file.skills[1].enabled)
        do {
            _ = try ToolsFile.parse(
                Data(
                    #"{"version": 1, "skills": [{"name": "Bad Name", "sandbox": "docker", "limits": {"processes": 0, "forks": 1}}, {"name": "faq"}, {"name": "faq"}]}"#
                        .utf8))
            Issue.record("an invalid skills list was accepted")
        } catch {
            #expect(
                error.issues.map(\.description) == [
                    "skills[0] (Bad Name).name: must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit",
                    "skills[0] (Bad Name).sandbox: must be \"bwrap\" or \"none\" (none runs the skill unsandboxed, with every right of the gateway)",
                    "skills[0] (Bad Name).limits.forks: unknown field (allowed: cpu_seconds, file_size_mb, open_files, output_kb, processes)",
                    "skills[0] (Bad Name).limits.processes: must be a whole number from 1 to 4096",
                    "skills[2] (faq).name: 'faq' is registered twice",
                ])
        }
    }

    @Test("egress rules: exact hosts, subdomain wildcards, any port, case and trailing dots")
    func egressRules() throws {
        let exact = try #require(EgressRule("API.example.com:443"))
        #expect(exact.matches(host: "api.example.com", port: 443))
        #expect(exact.matches(host: "api.example.com.", port: 443))
        #expect(!exact.matches(host: "api.example.com", port: 80))
        #expect(!exact.matches(host: "evil-api.example.com", port: 443))
        let wildcard = try #require(EgressRule("*.example.com:*"))
        #expect(wildcard.matches(host: "a.b.example.com", port: 8443))
        #expect(!wildcard.matches(host: "example.com", port: 443))
        #expect(!wildcard.matches(host: "notexample.com", port: 443))
        #expect(EgressRule("[::1]:8080")?.matches(host: "::1", port: 8080) == true)
        for bad in ["example.com", "example.com:0", "example.com:70000", "*:443", "a*.example.com:443", "http://x:1", ":443"] {
            #expect(EgressRule(bad) == nil, "\(bad)")
        }
    }

    @Test("paths are inside a root component by component")
    func pathContainment() {
        #expect(PermissionSet.path("/ws/notes/a.md", isInside: ["/ws/notes"]))
        #expect(PermissionSet.path("/ws/notes", isInside: ["/ws/notes"]))
        #expect(!PermissionSet.path("/ws/notes-private/a.md", isInside: ["/ws/notes"]))
        #expect(!PermissionSet.path("/ws", isInside: ["/ws/notes"]))
        #expect(!PermissionSet.path("/etc/passwd", isInside: []))
    }

    @Test("a request (SKILL.md) against a grant (tools.json): what is asked and not given, item by item")
    func notGranted() throws {
        var grant = PermissionSet()
        grant.read = ["knowledge"]
        grant.write = ["notes/"]
        grant.network = [try #require(EgressRule("*.example.com:443")), try #require(EgressRule("api.other.org:*"))]
        grant.environment = ["TZ"]
        grant.secrets = ["api_key"]
        var request = PermissionSet()
        request.read = ["knowledge/faq.md", "./notes/x", "private"]
        request.write = ["notes", "knowledge"]
        request.network = ["a.example.com:443", "*.b.example.com:443", "*.example.com:443", "example.com:443", "a.example.com:80", "api.other.org:8443", "api.other.org:*"]
            .compactMap(EgressRule.init)
        request.environment = ["TZ", "HOME"]
        request.secrets = ["api_key", "db_password"]
        request.exec = true
        #expect(
            request.notGranted(by: grant) == [
                "files.read private", "files.write knowledge", "network example.com:443", "network a.example.com:80", "env HOME", "secrets db_password",
                "exec",
            ])
        #expect(PermissionSet.none.notGranted(by: .none).isEmpty)
        #expect(grant.notGranted(by: grant).isEmpty)
    }
}
