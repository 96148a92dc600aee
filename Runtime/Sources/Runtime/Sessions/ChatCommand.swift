import Foundation

/// Commands a user types into any chat. Parsing is pure; the agent carries them out.
public enum ChatCommand: Sendable, Equatable {
    case new
    case reset
    case stop
    case status
    /// `/model` alone shows the model; `/model provider/model` sets it; `/model default` clears it.
    case model(String?)
    case help

    public static let helpText = """
        Commands:
        /new or /reset: start a fresh conversation (the transcript is kept)
        /stop: stop the answer being written
        /status: session, model, context use and providers
        /model: show the model; /model provider/name to switch this session; /model default to go back
        /help: this list
        """

    /// The command in `text`, or nil when it is an ordinary message (unknown `/words` included, so a
    /// message such as "/shrug" reaches the model).
    public static func parse(_ text: String) -> ChatCommand? {
        let trimmed = text.drop(while: { $0 == " " || $0 == "\n" })
        guard trimmed.hasPrefix("/") else { return nil }
        let parts = trimmed.dropFirst().split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\n" })
        guard let word = parts.first else { return nil }
        // "/status@my_bot" is how Telegram addresses a command to one bot in a group.
        let name = word.split(separator: "@").first.map { $0.lowercased() } ?? ""
        let argument = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespacesAndNewlines) : nil
        switch name {
        case "new": return .new
        case "reset": return .reset
        case "stop": return .stop
        case "status": return .status
        case "help": return .help
        case "model": return .model(argument?.isEmpty == true ? nil : argument)
        default: return nil
        }
    }
}
