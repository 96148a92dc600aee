import ArgumentParser
import Runtime

/// A word of the command line where a subcommand belongs that names none, with the nearest valid name.
///
/// Found before swift-argument-parser parses, because the parser gives no suggestion for a mistyped subcommand and,
/// with `--help` anywhere after it, prints the top-level help and exits 0 as if nothing were wrong.
struct UnknownCommand: CustomStringConvertible {
    /// The commands before the mistyped word, such as `swiftlet gateway`.
    var parent: String
    var given: String
    var suggestion: String?
    var available: [String]

    var description: String {
        let hint = suggestion.map { " Did you mean `\(parent) \($0)`?" } ?? ""
        return "'\(given)' is not a command of `\(parent)`.\(hint) Commands: \(available.joined(separator: ", ")); see `\(parent) --help`."
    }

    /// Walks `arguments` down the command tree from `root`; nil when every word in a subcommand's place names one (or
    /// the first option is reached, from where the parser judges).
    static func find(in arguments: [String], root: any ParsableCommand.Type) -> UnknownCommand? {
        var command = root
        var path = [root._commandName]
        // `swiftlet help gateway status` names commands the same way.
        for word in arguments.first == "help" ? Array(arguments.dropFirst()) : arguments {
            let configuration = command.configuration
            guard !word.hasPrefix("-"), !configuration.subcommands.isEmpty, configuration.defaultSubcommand == nil else { return nil }
            if let next = configuration.subcommands.first(where: { $0._commandName == word || $0.configuration.aliases.contains(word) }) {
                command = next
                path.append(word)
                continue
            }
            let visible = configuration.subcommands.filter { $0.configuration.shouldDisplay }
            let names = visible.map { $0._commandName }
            let suggestion = NameSuggestion.closest(to: word, among: names + visible.flatMap { $0.configuration.aliases })
            // An alias suggested is shown as the command it stands for.
            let shown = suggestion.map { name in visible.first { $0.configuration.aliases.contains(name) }?._commandName ?? name }
            return UnknownCommand(parent: path.joined(separator: " "), given: word, suggestion: shown, available: names)
        }
        return nil
    }
}
