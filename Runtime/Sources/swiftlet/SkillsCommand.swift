import ArgumentParser
import Foundation
import Runtime

/// `swiftlet skills list|show`: the skills of a workspace, read from its files (no gateway needed).
struct SkillsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skills", abstract: "List the workspace's skills and show what each asks for and is granted.",
        subcommands: [List.self, Show.self], aliases: ["skill"])

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
}
