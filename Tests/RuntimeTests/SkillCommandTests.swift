import Foundation
import Testing

@testable import Runtime

/// `swiftlet skills run|test` as a user runs them: the real executable, the repository's example skills.
@Suite("Skills: the command line and the example skills", .serialized)
struct SkillCommandTests {
    /// The repository: its tools.json registers the example skills over its knowledge/ folder.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the example skills pass their own tests in the sandbox", arguments: ["faq", "products", "text-stats"])
    func exampleSkills(name: String) throws {
        let run = try CommandLineTests.run(["skills", "test", name, "--workspace", Self.repository.path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("passed") && !run.stdout.contains("FAIL"), "\(run.stdout)")
    }

    @Test("skills run prints the output, and fails with the skill's error and exit status 1")
    func runCommand() throws {
        let answer = try CommandLineTests.run(
            ["skills", "run", "faq", "--workspace", Self.repository.path, "--input", #"{"question": "How long does delivery take?"}"#])
        #expect(answer.status == 0 && answer.stdout.contains(#""matched": "How long does delivery take?""#), "\(answer.stdout)\(answer.stderr)")
        let bad = try CommandLineTests.run(["skills", "run", "products", "--workspace", Self.repository.path, "--input", #"{"query": ""}"#])
        #expect(bad.status == 1 && bad.stderr.contains("input.query must be a non-empty string"), "\(bad.stderr)")
        let malformed = try CommandLineTests.run(["skills", "run", "faq", "--workspace", Self.repository.path, "--input", "{oops"])
        #expect(malformed.status == 1 && malformed.stderr.contains("--input is not valid JSON"), "\(malformed.stderr)")
        let unknown = try CommandLineTests.run(["skills", "run", "nope", "--workspace", Self.repository.path])
        #expect(unknown.status == 1 && unknown.stderr.contains("tools.json registers no skill named 'nope'"), "\(unknown.stderr)")
    }

    @Test("faq matches the question a user asks, not a word of another answer", arguments: [
        ("when are you open?", "What are your opening hours?"),
        ("are you open on sunday", "What are your opening hours?"),
        ("I forgot my password", "How do I reset my password?"),
        ("do you take visa?", "Which payment methods do you accept?"),
    ])
    func faqMatches(question: String, heading: String) throws {
        let run = try CommandLineTests.run(["skills", "run", "faq", "--workspace", Self.repository.path, "--input", #"{"question": "\#(question)"}"#])
        #expect(run.status == 0 && run.stdout.contains(#""matched": "\#(heading)""#), "\(run.stdout)\(run.stderr)")
    }

    @Test("text-stats takes a path inside knowledge/ as well as one from the workspace (knowledge/faq.md)")
    func textStatsPaths() throws {
        for path in ["faq.md", "knowledge/faq.md", "./knowledge/faq.md"] {
            let run = try CommandLineTests.run(
                ["skills", "run", "text-stats", "--workspace", Self.repository.path, "--input", #"{"path": "\#(path)"}"#])
            #expect(run.status == 0 && run.stdout.contains("file: faq.md") && run.stdout.contains("lines: 16"), "\(path): \(run.stdout)\(run.stderr)")
        }
        let escape = try CommandLineTests.run(
            ["skills", "run", "text-stats", "--workspace", Self.repository.path, "--input", #"{"path": "knowledge/../config.yaml"}"#])
        #expect(escape.status == 1 && escape.stderr.contains("without '..'"), "\(escape.stderr)")
    }

    @Test("a gateway that is not root runs skills in a user namespace of their own: the process limit still holds")
    func nonRootUser() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-nonroot-\(UUID().uuidString)")
        let folder = root.appendingPathComponent("skills/bomb")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
        try "---\nname: bomb\ndescription: d\nruntime: python\nentry: main.py\n---\n".write(
            to: folder.appendingPathComponent("SKILL.md"), atomically: true, encoding: .utf8)
        try """
            import os, time
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(30); os._exit(0)
                    n += 1
            except OSError:
                print("uid", os.getuid(), "stopped after", n)
            """.write(to: folder.appendingPathComponent("main.py"), atomically: true, encoding: .utf8)
        try #"{"version": 1, "skills": [{"name": "bomb", "limits": {"processes": 8}}]}"#.write(
            to: root.appendingPathComponent("tools.json"), atomically: true, encoding: .utf8)
        for path in [root.path, root.appendingPathComponent("skills").path, folder.path] { chmod(path, 0o755) }
        chmod(root.appendingPathComponent("data").path, 0o777)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", CommandLineTests.executable.path, "skills", "run", "bomb", "--workspace", root.path]
        process.environment = ["PATH": Doctor.defaultPath, "HOME": "/tmp"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The skill keeps the unprivileged uid it was started with, in a user namespace of its own.
        #expect(process.terminationStatus == 0 && output.hasPrefix("uid "), "\(output)")
        let forks = Int(output.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        #expect(forks >= 1 && forks < 8, "\(output)")
    }
}
