import ArgumentParser
import Foundation
import Logging
import Runtime

/// `swiftlet skills list|show`: the skills of a workspace, read from its files (no gateway needed).
struct SkillsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skills", abstract: "List, show, run and test the workspace's skills.",
        subcommands: [List.self, Show.self, Run.self, Test.self, Reload.self], aliases: ["skill"])

    /// One registered skill prepared as the gateway would (same sandbox, same grant), without a gateway.
    static func prepare(_ name: String, _ options: WorkspaceOptions) async throws -> SkillRunner {
        // A skill that exits before reading all its input must not end this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var logger = Logger(label: "swiftlet.skills")
        logger.logLevel = .warning
        let catalog = SkillCatalog(workspace: options.resolved, tools: ToolRegistry(), logger: logger)
        do throws(SkillLoadError) {
            return try await catalog.prepare(name)
        } catch {
            printError("\(name): \(error.message)")
            throw ExitStatus.failure
        }
    }

    static func survey(_ options: WorkspaceOptions) throws -> [SkillSurvey.Status] {
        do {
            return try SkillSurvey.survey(options.resolved)
        } catch {
            printError("\(error)")
            throw ExitStatus.invalidConfig
        }
    }

    static func json(_ status: SkillSurvey.Status) throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(status))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Name, state, runtime, sandbox and description of each skill.")

        @OptionGroup var options: WorkspaceOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let statuses = try SkillsCommand.survey(options)
            if json {
                printJSON(["skills": try statuses.map(SkillsCommand.json)])
                return
            }
            guard !statuses.isEmpty else {
                print("no skills: tools.json registers none and skills/ holds no SKILL.md")
                return
            }
            print(padded("name", 18) + padded("state", 14) + padded("runtime", 9) + padded("sandbox", 9) + "description / reason")
            for status in statuses {
                let detail = status.error ?? status.description ?? ""
                print(
                    padded(status.name, 18) + padded(status.state.rawValue, 14) + padded(status.runtime ?? "-", 9) + padded(status.sandbox ?? "-", 9) + detail)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One skill: its state, folder, and what SKILL.md asks for that tools.json does not grant.")

        @OptionGroup var options: WorkspaceOptions
        @Argument(help: "The skill's name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let status = try SkillsCommand.survey(options).first(where: { $0.name == name }) else {
                printError("no skill named '\(name)' in tools.json or skills/")
                throw ExitStatus.failure
            }
            if json {
                printJSON(try SkillsCommand.json(status))
                return
            }
            print("\(status.name): \(status.state.rawValue)")
            print("folder: \(status.path)")
            if let description = status.description { print("description: \(description)") }
            if let runtime = status.runtime { print("runtime: \(runtime)") }
            if let sandbox = status.sandbox { print("sandbox: \(sandbox)") }
            if let error = status.error { print("error: \(error)") }
            if status.notGranted.isEmpty {
                if status.state != .unregistered, status.error == nil { print("permissions: everything SKILL.md asks for is granted") }
            } else {
                print("asked for in SKILL.md, not granted in tools.json (the skill runs without):")
                for item in status.notGranted { print("  \(item)") }
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a registered skill once, sandboxed as the gateway runs it, and print its output.")

        @OptionGroup var options: WorkspaceOptions
        @Argument(help: "The skill's name.") var name: String
        @Option(help: ArgumentHelp("The input: a JSON object, as the model would send it.", valueName: "json")) var input = "{}"

        func run() async throws {
            let arguments: JSONValue
            do {
                arguments = try JSONValue(parsing: input)
            } catch {
                printError("--input is not valid JSON: \(error)")
                throw ExitStatus.failure
            }
            let runner = try await SkillsCommand.prepare(name, options)
            let outcome = await runner.run(input: arguments)
            await runner.close()
            switch outcome {
            case .success(let output): print(output)
            case .failure(let error):
                printError(error.message)
                throw ExitStatus.failure
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a skill's own test cases (the JSON files in its tests/ folder) through its sandbox.")

        @OptionGroup var options: WorkspaceOptions
        @Argument(help: "The skill's name.") var name: String

        func run() async throws {
            let runner = try await SkillsCommand.prepare(name, options)
            let folder = URL(fileURLWithPath: runner.folder).appendingPathComponent("tests")
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
            guard !files.isEmpty else {
                printError("\(name) has no tests: add JSON cases to \(folder.path) (see the README, Writing a skill)")
                throw ExitStatus.failure
            }
            var failed = 0
            for file in files {
                let started = ContinuousClock.now
                let failures: [String]
                do {
                    let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                    let testCase = try SkillTestCase.parse(name: file, text: text)
                    failures = testCase.failures(await runner.run(input: testCase.input))
                } catch {
                    failures = ["\(error)"]
                }
                let milliseconds = Int((ContinuousClock.now - started).milliseconds)
                if failures.isEmpty {
                    print("ok    \(file) (\(milliseconds) ms)")
                } else {
                    failed += 1
                    print("FAIL  \(file) (\(milliseconds) ms)")
                    for failure in failures { print("      \(failure)") }
                }
            }
            print("\(files.count - failed) of \(files.count) passed")
            await runner.close()
            if failed > 0 { throw ExitStatus.failure }
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the running gateway read tools.json and the skill folders again (new grants, edited SKILL.md, changed requirements).",
            discussion: "Exit status: 0 when every enabled skill loaded, 1 when one failed, 2 when the reload was refused (invalid tools.json).")

        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let admin = try await client.connect(options)
            // Building a skill's Python environment can take minutes.
            let body = try await client.reload(admin, "/admin/v1/skills/reload")
            let skills = body["skills"] as? [[String: Any]] ?? []
            if json {
                printJSON(body)
            } else {
                for skill in skills { print("\(skill["name"] ?? "?") \(skill["state"] ?? "?")" + ((skill["error"] as? String).map { ": \($0)" } ?? "")) }
                if skills.isEmpty { print("tools.json registers no skills") }
            }
            if skills.contains(where: { $0["state"] as? String == "failed" }) { throw ExitStatus.failure }
        }
    }
}
