import Foundation
import Testing

@testable import Runtime

@Suite("Skills: SKILL.md")
struct SkillManifestTests {
    static let faq = """
        ---
        name: faq
        description: Answers questions from the FAQ in knowledge/faq.md.
        runtime: python
        entry: main.py
        input:
          type: object
          properties:
            question: { type: string }
            limit: { type: integer, default: 3 }
          required: [question]
        requirements: requirements.txt
        permissions:
          files: { read: [knowledge] }
          timeout_seconds: 5
        license: MIT
        ---
        Call this skill with the user's question.

        It answers from the FAQ only.
        """

    @Test("the frontmatter is read into a manifest; the body is the instructions")
    func parses() throws {
        let manifest = try SkillManifest.parse(Self.faq)
        #expect(manifest.name == "faq" && manifest.runtime == .python && manifest.entry == "main.py" && manifest.requirements == "requirements.txt")
        #expect(manifest.description == "Answers questions from the FAQ in knowledge/faq.md.")
        #expect(manifest.input["required"] == .array([.string("question")]))
        // Numbers stay numbers, so the schema reaches the model as written.
        #expect(manifest.input["properties"]?["limit"]?["default"] == .number(3))
        #expect(manifest.requested.read == ["knowledge"] && manifest.requested.timeoutSeconds == 5)
        #expect(manifest.instructions == "Call this skill with the user's question.\n\nIt answers from the FAQ only.")
        let minimal = try SkillManifest.parse("---\nname: tidy\ndescription: Tidies a file.\nruntime: shell\nentry: bin/tidy.sh\n---\n")
        #expect(minimal.input == SkillManifest.defaultInput && minimal.requested == .none && minimal.instructions.isEmpty)
    }

    @Test("every problem is named by its field; paths must stay inside the skill folder")
    func refuses() {
        let text = """
            ---
            name: Bad Name
            runtime: ruby
            entry: ../outside.py
            input: [1, 2]
            requirements: /etc/passwd
            permissions: { network: [example.com] }
            homepage: https://example.com
            ---
            """
        do {
            _ = try SkillManifest.parse(text)
            Issue.record("an invalid SKILL.md was accepted")
        } catch {
            #expect(
                error.issues.map(\.description) == [
                    "homepage: unknown field (allowed: allowed-tools, compatibility, description, entry, input, license, metadata, name, permissions, requirements, runtime)",
                    "name: must be 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit",
                    "description: is required: 1 to 1024 characters that tell the model when to use the skill",
                    "runtime: must be python or shell",
                    "entry: must be the script's path inside the skill folder (relative, without '..')",
                    "input: must be a JSON Schema object (a mapping)",
                    "requirements: must be a requirements file's path inside the skill folder",
                    "permissions.network[0]: 'example.com' must be host:port (port 1-65535 or *), [ipv6]:port, or *.domain:port",
                ])
        }
        for broken in ["no frontmatter", "---\nname: x\n", "---\n[not, a, mapping]\n---\n", "---\nname: *alias\n---\n", "---\n: : :\n---\n"] {
            #expect(throws: SkillManifest.Invalid.self, "\(broken)") { try SkillManifest.parse(broken) }
        }
    }

    @Test("the survey: registered skills in tools.json order with their state, then unregistered folders")
    func survey() throws {
        let workspace = Workspace(root: FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-skills-\(UUID().uuidString)"))
        try workspace.scaffold()
        func write(_ relative: String, _ text: String) throws {
            let url = workspace.root.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("skills/faq/SKILL.md", Self.faq)
        try write("skills/tidy/SKILL.md", "---\nname: tidy\ndescription: Tidies.\nruntime: shell\nentry: tidy.sh\n---\n")
        try write("skills/renamed/SKILL.md", "---\nname: other\ndescription: Misnamed.\nruntime: shell\nentry: run.sh\n---\n")
        try write("skills/broken/SKILL.md", "---\nname: broken\nruntime: ruby\n---\n")
        try write("skills/stray/SKILL.md", "---\nname: stray\ndescription: Nobody registered me.\nruntime: shell\nentry: run.sh\n---\n")
        try write("skills/notes-only/README.md", "no SKILL.md here")
        try write(
            "tools.json",
            #"""
            {"version": 1, "skills": [
              {"name": "faq", "permissions": {"files": {"read": ["knowledge"]}, "timeout_seconds": 5}},
              {"name": "tidy", "enabled": false},
              {"name": "renamed"},
              {"name": "broken"},
              {"name": "ghost"},
              {"name": "limited", "path": "skills/faq"}
            ]}
            """#)
        let statuses = try SkillSurvey.survey(workspace)
        #expect(statuses.map(\.name) == ["faq", "tidy", "renamed", "broken", "ghost", "limited", "stray"])
        #expect(statuses.map(\.state) == [.ready, .disabled, .invalid, .invalid, .invalid, .invalid, .unregistered])
        #expect(statuses[0].runtime == "python" && statuses[0].notGranted.isEmpty && statuses[0].sandbox == "bwrap")
        #expect(statuses[2].error == "SKILL.md names the skill 'other' but tools.json registers it as 'renamed'")
        #expect(statuses[3].error?.contains("runtime: must be python or shell") == true)
        #expect(statuses[4].error?.hasSuffix("skills/ghost/SKILL.md is missing or unreadable") == true)
        #expect(statuses[6].description == "Nobody registered me." && statuses[6].sandbox == nil)
        // Asking for more than the grant: the skill is limited to the grant, and says what it lacks.
        var entry = ToolsFile.SkillEntry(name: "faq")
        entry.permissions.read = ["knowledge"]
        let limited = SkillSurvey.status(entry: entry, folder: "/x", manifest: .success(try SkillManifest.parse(Self.faq.replacingOccurrences(of: "files: { read: [knowledge] }", with: "files: { read: [knowledge] }\n  env: [HOME]"))))
        #expect(limited.state == .limited && limited.notGranted == ["env HOME"])
    }
}
