import ArgumentParser
import Foundation
import Runtime

/// `swiftlet trace <message-id>`: the timeline of one message, hop by hop.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Print the timeline of one message: received, routed, model calls, tools, reply queued and sent.")

    @Argument(
        help: ArgumentHelp(
            "The message id: the web chat shows each message's id, the logs carry it as message_id, "
                + "and chat.send and the webhook channels answer it.",
            valueName: "message-id"))
    var messageID: String
    @OptionGroup var options: WorkspaceOptions
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let admin = try await client.connect(options)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_:."))
        guard messageID.unicodeScalars.allSatisfy(allowed.contains) else {
            printError("'\(messageID)' is not a message id")
            throw ExitCode(64)
        }
        let body = try await client.fetch(admin, "/admin/v1/trace/\(messageID)")
        if json {
            printJSON(body)
            return
        }
        print(TraceTimeline.render(body))
    }
}
