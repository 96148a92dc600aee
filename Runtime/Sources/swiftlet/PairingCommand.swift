import ArgumentParser
import Foundation
import Runtime

/// `swiftlet pairing list|approve|reject`: the strangers waiting with a pairing code, and the owner's decisions.
struct PairingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairing", abstract: "List pairing requests, and approve or reject a stranger's pairing code.",
        subcommands: [List.self, Approve.self, Reject.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pending codes and decided senders, newest first.")

        @Option(help: "Only this channel.") var channel: String?
        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let admin = try await client.connect(options)
            let query = channel.map { "?channel=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
            let body = try await client.fetch(admin, "/admin/v1/pairing" + query)
            if json {
                printJSON(body)
                return
            }
            let records = body["pairing"] as? [[String: Any]] ?? []
            guard !records.isEmpty else {
                print("no pairing requests")
                return
            }
            print(padded("channel", 14) + padded("sender", 24) + padded("code", 10) + padded("state", 10) + "since")
            for record in records {
                print(
                    padded(record["channel"] as? String ?? "", 14) + padded(record["sender"] as? String ?? "", 24) + padded(record["code"] as? String ?? "-", 10)
                        + padded(record["state"] as? String ?? "", 10) + (record["created_at"] as? String ?? ""))
            }
        }
    }

    /// What `approve` and `reject` take.
    struct Decision: ParsableArguments {
        @Argument(help: "The channel, as in the pairing message.") var channel: String
        @Argument(help: "The 8-character code the sender received.") var code: String
        @OptionGroup var options: WorkspaceOptions
        @OptionGroup var client: ClientOptions

        func send(_ action: String) async throws {
            let admin = try await client.connect(options)
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
            let reply = try await client.send(admin, post: "/admin/v1/pairing/\(action)?channel=\(encode(channel))&code=\(encode(code))")
            guard reply.status == 200, let record = reply.body["pairing"] as? [String: Any] else {
                let message = (reply.body["error"] as? [String: Any])?["message"] as? String ?? "\(reply.body)"
                printError(message)
                throw reply.status == 401 || reply.status == 403 ? ExitStatus.unauthorized : ExitStatus.failure
            }
            print("\(action == "approve" ? "approved" : "rejected") \(record["sender"] as? String ?? "?") on \(channel)")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let the sender holding this code talk to the assistant on this channel.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.send("approve") }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn the sender holding this code away; their messages are ignored from now on.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.send("reject") }
    }
}
