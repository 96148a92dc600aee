import Foundation

/// Markdown as models write it, turned into Slack's mrkdwn.
///
/// Slack reads `*bold*`, `_italic_`, `~strike~`, `<url|label>` and code spans and fences as Markdown does, but
/// treats `&`, `<` and `>` as control characters everywhere (code included), shows a fence's language tag as text,
/// and has no headings or list syntax. So: `**b**` and `__b__` become `*b*`, `*i*` becomes `_i_`, `~~s~~` becomes
/// `~s~`, `[t](u)` becomes `<u|t>`, headings become bold lines and bullets `•`. A user mention `<@U…>` and a channel
/// reference `<#C…>` stay links; any other `<…>` is escaped, so a reply can never ping `@channel` or `@here`.
///
/// ```swift
/// SlackMrkdwn.convert("**Done**: see [the docs](https://x.dev/a?b=1&c=2)")
/// // "*Done*: see <https://x.dev/a?b=1&amp;c=2|the docs>"
/// ```
enum SlackMrkdwn {
    static func convert(_ markdown: String) -> String {
        var output: [String] = []
        var inFence = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            let body = line.dropFirst(indent.count)
            if body.hasPrefix("```") {
                let rest = body.dropFirst(3)
                if !inFence, let close = rest.range(of: "```") {
                    // A one-line block: code between the fences.
                    output.append(String(indent) + "```" + escape(rest[..<close.lowerBound]) + "```" + inline(rest[close.upperBound...]))
                    continue
                }
                inFence.toggle()
                let info = rest.trimmingCharacters(in: .whitespaces)
                let isLanguageTag = inFence && info.allSatisfy { $0.isLetter || $0.isNumber || "+#._-".contains($0) }
                output.append(String(indent) + "```" + (isLanguageTag ? "" : escape(Substring(info))))
                continue
            }
            if inFence {
                output.append(escape(line))
                continue
            }
            output.append(String(indent) + block(body))
        }
        return output.joined(separator: "\n")
    }

    /// One line outside code: headings, bullets, quotes and rules, then the inline syntax.
    private static func block(_ line: Substring) -> String {
        if let heading = line.wholeMatch(of: /#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*/) {
            let text = inline(heading.output.1).trimmingCharacters(in: CharacterSet(charactersIn: "*"))
            return text.isEmpty ? "" : "*" + text + "*"
        }
        if line.wholeMatch(of: /([-*_])([ \t]*\1){2,}[ \t]*/) != nil { return "───" }
        if let bullet = line.firstMatch(of: /^[-*+][ \t]+(.*)$/) { return "• " + inline(bullet.output.1) }
        if let quote = line.firstMatch(of: /^>[ \t]?(.*)$/) { return "> " + inline(quote.output.1) }
        return inline(line)
    }

    /// The inline syntax of one line.
    static func inline(_ text: Substring) -> String {
        let characters = Array(text)
        var output = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "`":
                let run = characters[index...].prefix { $0 == "`" }.count
                if let close = closingBackticks(characters, from: index + run, run: run) {
                    output += "`" + escape(Substring(String(characters[(index + run)..<close]))) + "`"
                    index = close + run
                } else {
                    output += String(repeating: "`", count: run)
                    index += run
                }
                continue
            case "[":
                if let link = link(characters, at: index) {
                    let url = escape(Substring(link.url))
                    output += link.label == link.url ? "<\(url)>" : "<\(url)|\(inline(Substring(link.label)).replacingOccurrences(of: "|", with: "¦"))>"
                    index = link.end
                    continue
                }
            case "*", "_", "~":
                if let span = emphasis(characters, at: index) {
                    output += span.marker + inline(Substring(String(characters[span.content]))) + span.marker
                    index = span.end
                    continue
                }
            case "<":
                if let token = preservedToken(characters, at: index) {
                    output += token.text
                    index = token.end
                    continue
                }
            default:
                break
            }
            output += escape(character)
            index += 1
        }
        return output
    }

    static func escape(_ text: Substring) -> String {
        var output = ""
        for character in text { output += escape(character) }
        return output
    }

    private static func escape(_ character: Character) -> String {
        switch character {
        case "&": "&amp;"
        case "<": "&lt;"
        case ">": "&gt;"
        default: String(character)
        }
    }

    /// The start of the next run of exactly `run` backticks at or after `start`.
    private static func closingBackticks(_ characters: [Character], from start: Int, run: Int) -> Int? {
        var index = start
        while index < characters.count {
            guard characters[index] == "`" else {
                index += 1
                continue
            }
            let length = characters[index...].prefix { $0 == "`" }.count
            if length == run { return index }
            index += length
        }
        return nil
    }

    /// `[label](url)` with an absolute http(s) or mailto URL; relative links stay text.
    private static func link(_ characters: [Character], at start: Int) -> (label: String, url: String, end: Int)? {
        guard let close = characters[(start + 1)...].firstIndex(where: { $0 == "]" || $0 == "[" || $0 == "\n" }), characters[close] == "]",
            close + 1 < characters.count, characters[close + 1] == "(",
            let end = characters[(close + 2)...].firstIndex(where: { $0 == ")" || $0 == " " || $0 == "<" || $0 == ">" || $0 == "|" }), characters[end] == ")"
        else { return nil }
        let label = String(characters[(start + 1)..<close])
        let url = String(characters[(close + 2)..<end])
        guard !label.isEmpty, url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("mailto:") else { return nil }
        return (label, url, end + 1)
    }

    /// A Markdown emphasis span opening at `start`: its mrkdwn marker, content range and end.
    private static func emphasis(_ characters: [Character], at start: Int) -> (marker: String, content: Range<Int>, end: Int)? {
        let delimiter = characters[start]
        let doubled = start + 1 < characters.count && characters[start + 1] == delimiter
        if delimiter == "~" && !doubled { return nil }
        let width = doubled ? 2 : 1
        let contentStart = start + width
        guard contentStart < characters.count, !characters[contentStart].isWhitespace else { return nil }
        // `_` and `__` do not open or close inside a word (snake_case stays as it is).
        if delimiter == "_", start > 0, characters[start - 1].isLetter || characters[start - 1].isNumber { return nil }
        var index = contentStart + 1
        while index + width <= characters.count {
            if characters[index] == "`" { return nil }
            let matches = (0..<width).allSatisfy { characters[index + $0] == delimiter }
            let runLength = characters[index...].prefix { $0 == delimiter }.count
            let before = characters[index - 1]
            if matches, !before.isWhitespace, doubled ? runLength >= 2 : runLength == 1 {
                let after = index + width < characters.count ? characters[index + width] : " "
                if delimiter != "_" || !(after.isLetter || after.isNumber) {
                    let marker: String =
                        switch (delimiter, doubled) {
                        case ("~", _): "~"
                        case (_, true): "*"
                        default: "_"
                        }
                    return (marker, contentStart..<index, index + width)
                }
            }
            index += max(runLength, 1)
        }
        return nil
    }

    /// A user mention, a channel reference or an autolink, kept as Slack reads them.
    private static func preservedToken(_ characters: [Character], at start: Int) -> (text: String, end: Int)? {
        guard let close = characters[(start + 1)...].firstIndex(where: { $0 == ">" || $0 == "<" || $0 == "\n" }), characters[close] == ">" else { return nil }
        let inner = String(characters[(start + 1)..<close])
        if inner.wholeMatch(of: /@[UW][A-Z0-9]+/) != nil || inner.wholeMatch(of: /#C[A-Z0-9]+(\|[^|]*)?/) != nil {
            return ("<" + inner + ">", close + 1)
        }
        if inner.wholeMatch(of: /(https?:\/\/|mailto:)[^\s|]+/) != nil {
            return ("<" + escape(Substring(inner)) + ">", close + 1)
        }
        return nil
    }
}
