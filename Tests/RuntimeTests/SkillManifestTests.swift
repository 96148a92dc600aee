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
}
