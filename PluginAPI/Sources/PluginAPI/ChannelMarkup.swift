import Foundation

extension ChannelText {
    /// Markdown as models write it, rendered in a platform's own markup.
    ///
    /// Read: `**bold**` and `__bold__`, `*italic*` and `_italic_` (never inside a word, so `snake_case` stays),
    /// `~~strike~~`, `` `code` `` (any run of backticks), fenced blocks, `[label](url)` with an absolute http(s) or
    /// mailto URL, `#` headings, `-`/`*`/`+` bullets, `>` quotes and `---` rules. Everything else is text, escaped as
    /// the dialect needs. An unclosed fence is closed at the end, so a cut-off answer still parses.
    ///
    /// | dialect | bold, italic, strike | links | headings, bullets | escaped |
    /// |---|---|---|---|---|
    /// | `markdownV2` (Telegram) | `*b*` `_i_` `~s~` | `[label](url)` | bold line, `•` | every reserved character |
    /// | `mrkdwn` (Slack) | `*b*` `_i_` `~s~` | `<url\|label>` | bold line, `•` | `&` `<` `>` (mentions `<@U…>` and `<#C…>` kept) |
    /// | `whatsApp` | `*b*` `_i_` `~s~` | `label (url)` | bold line, `-` | nothing |
    /// | `html` (Telegram, Matrix) | `<b>` `<i>` `<s>` | `<a href>` | `<b>` line, `•` | `&` `<` `>` `"` |
    /// | `plain`, `markdown` | the text as it is | | | |
    ///
    /// ```swift
    /// ChannelText.render("**Done**: see [docs](https://x.dev/?a=1&b=2)", as: .mrkdwn)
    /// // "*Done*: see <https://x.dev/?a=1&amp;b=2|docs>"
    /// ```
    public static func render(_ markdown: String, as dialect: MarkupDialect) -> String {
        guard let style = MarkupStyle(dialect) else { return markdown }
        return MarkupRenderer(style: style).document(markdown)
    }

    /// `markdown` cut into parts that each stay within `limit` once rendered in `dialect` (each character weighs
    /// what its escaped form does), at the places ``chunks(_:limit:weight:)`` prefers. Render each part on its own:
    /// a fence cut in two is closed in the first part.
    public static func chunks(_ markdown: String, limit: Int, as dialect: MarkupDialect) -> [String] {
        guard let style = MarkupStyle(dialect) else { return chunks(markdown, limit: limit) }
        return chunks(markdown, limit: limit) { style.escapeText($0).utf16.count }
    }
}

/// How one dialect writes each piece of Markdown.
struct MarkupStyle {
    var bold: (open: String, close: String)
    var italic: (open: String, close: String)
    var strike: (open: String, close: String)
    var code: (open: String, close: String)
    /// The line that opens a fenced block, given the block's language tag if it had one.
    var fenceOpen: (_ language: String?) -> String
    var fenceClose: String
    var bullet: String
    var quote: String
    var escapeText: (Character) -> String
    var escapeCode: (Character) -> String
    /// A link, given its label already rendered, its URL as written, and whether the label was the URL itself.
    var link: (_ label: String, _ url: String, _ labelIsURL: Bool) -> String
    /// Platform syntax inside `<…>` that passes through as it is (Slack's mentions), or nil.
    var keepAngleToken: ((String) -> String?)?

    init?(_ dialect: MarkupDialect) {
        // The asterisk family (Telegram, Slack, WhatsApp) shares markers; each dialect changes what differs.
        bold = ("*", "*")
        italic = ("_", "_")
        strike = ("~", "~")
        code = ("`", "`")
        fenceOpen = { _ in "```" }
        fenceClose = "```"
        bullet = "• "
        quote = "> "
        escapeText = { String($0) }
        escapeCode = { String($0) }
        link = { label, url, labelIsURL in labelIsURL ? url : "\(label) (\(url))" }
        keepAngleToken = nil
        switch dialect {
        case .plain, .markdown:
            return nil
        case .markdownV2:
            // Telegram: every reserved character is escaped outside entities; inside code only ` and \.
            fenceOpen = { "```" + ($0 ?? "") }
            quote = ">"
            escapeText = { ChannelText.markdownV2Reserved.contains($0) ? "\\\($0)" : String($0) }
            escapeCode = { $0 == "`" || $0 == "\\" ? "\\\($0)" : String($0) }
            link = { label, url, _ in
                "[" + label + "](" + url.map { $0 == ")" || $0 == "\\" ? "\\\($0)" : String($0) }.joined() + ")"
            }
        case .mrkdwn:
            // Slack reads &, < and > as control characters everywhere, code included, and shows a fence's language as text.
            let escape = { Self.entity($0, quote: false) }
            escapeText = escape
            escapeCode = escape
            link = { label, url, labelIsURL in
                let target = url.map(escape).joined()
                return labelIsURL ? "<\(target)>" : "<\(target)|\(label.replacingOccurrences(of: "|", with: "¦"))>"
            }
            // A user mention or a channel reference stays a link; any other <…> (<!channel>, <!here>) is escaped,
            // so a reply can never ping a whole channel.
            keepAngleToken = { inner in
                if Self.isSlackMention(inner) { return "<" + inner + ">" }
                if ["https://", "http://", "mailto:"].contains(where: inner.hasPrefix), !inner.contains(where: { $0.isWhitespace || $0 == "|" }) {
                    return "<" + inner.map(escape).joined() + ">"
                }
                return nil
            }
        case .whatsApp:
            // WhatsApp has no links or headings as markup (a bare URL is linked) and nothing to escape.
            bullet = "- "
        case .html:
            let escape = { Self.entity($0, quote: true) }
            bold = ("<b>", "</b>")
            italic = ("<i>", "</i>")
            strike = ("<s>", "</s>")
            code = ("<code>", "</code>")
            fenceOpen = { language in language.map { "<pre><code class=\"language-\($0)\">" } ?? "<pre><code>" }
            fenceClose = "</code></pre>"
            quote = "&gt; "
            escapeText = escape
            escapeCode = escape
            link = { label, url, _ in "<a href=\"\(url.map(escape).joined())\">\(label)</a>" }
        }
    }

    /// `@U…`/`@W…` (a user) or `#C…` with an optional `|label` (a channel), ids in upper-case letters and digits.
    static func isSlackMention(_ inner: String) -> Bool {
        let isID = { (id: Substring) in !id.isEmpty && id.allSatisfy { ($0.isASCII && $0.isUppercase) || $0.isASCII && $0.isNumber } }
        if inner.hasPrefix("@U") || inner.hasPrefix("@W") { return isID(inner.dropFirst(2)) }
        guard inner.hasPrefix("#C") else { return false }
        let parts = inner.dropFirst(2).split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        return isID(parts[0]) && (parts.count == 1 || !parts[1].contains("|"))
    }

    /// `&`, `<`, `>` (and `"` where it may close an attribute) as entities.
    static func entity(_ character: Character, quote: Bool) -> String {
        switch character {
        case "&": "&amp;"
        case "<": "&lt;"
        case ">": "&gt;"
        case "\"" where quote: "&quot;"
        default: String(character)
        }
    }
}

/// Markdown read line by line (blocks), then character by character (inline spans).
struct MarkupRenderer {
    let style: MarkupStyle

    func document(_ markdown: String) -> String {
        var output: [String] = []
        var inFence = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            let body = line.dropFirst(indent.count)
            if body.hasPrefix("```") {
                let rest = body.dropFirst(3)
                if !inFence, let close = rest.range(of: "```") {
                    // A one-line block: code between the fences.
                    output.append(String(indent) + style.fenceOpen(nil) + escapeCode(rest[..<close.lowerBound]) + style.fenceClose + inline(rest[close.upperBound...]))
                    continue
                }
                if inFence {
                    output.append(String(indent) + style.fenceClose)
                    inFence = false
                    continue
                }
                inFence = true
                let info = rest.trimmingCharacters(in: .whitespaces)
                let isLanguageTag = !info.isEmpty && info.allSatisfy { $0.isLetter || $0.isNumber || "+#._-".contains($0) }
                output.append(String(indent) + style.fenceOpen(isLanguageTag ? info : nil))
                // Anything else after the fence is the block's first line of code.
                if !info.isEmpty && !isLanguageTag { output.append(escapeCode(Substring(info))) }
                continue
            }
            output.append(inFence ? escapeCode(line) : String(indent) + block(body))
        }
        if inFence { output.append(style.fenceClose) }
        return output.joined(separator: "\n")
    }

    /// One line outside code: a heading, rule, bullet or quote, then its inline spans. (Scanned by hand: a regex
    /// literal is parsed again on every call, which made rendering a tenth of the channel path's CPU.)
    private func block(_ line: Substring) -> String {
        if var text = Self.heading(line) {
            // A heading already written bold is not bolded twice.
            for marker in ["**", "__"] where text.count > 4 && text.hasPrefix(marker) && text.hasSuffix(marker) { text = text.dropFirst(2).dropLast(2) }
            let rendered = inline(text)
            return rendered.isEmpty ? "" : style.bold.open + rendered + style.bold.close
        }
        if Self.isRule(line) { return "───" }
        if let first = line.first, "-*+".contains(first), let second = line.dropFirst().first, Self.isBlank(second) {
            return style.bullet + inline(line.dropFirst().drop(while: Self.isBlank))
        }
        if line.first == ">" {
            let rest = line.dropFirst()
            return style.quote + inline(rest.first.map(Self.isBlank) == true ? rest.dropFirst() : rest)
        }
        return inline(line)
    }

    private static func isBlank(_ character: Character) -> Bool { character == " " || character == "\t" }

    /// The text of an ATX heading (`## Text ##`): one to six `#`, a blank, the text, optional closing `#`s.
    static func heading(_ line: Substring) -> Substring? {
        let level = line.prefix { $0 == "#" }.count
        guard (1...6).contains(level), let after = line.dropFirst(level).first, isBlank(after) else { return nil }
        var text = line.dropFirst(level).drop(while: isBlank)
        while let last = text.last, isBlank(last) { text = text.dropLast() }
        let closing = text.reversed().prefix { $0 == "#" }.count
        if closing > 0, closing == text.count || isBlank(text[text.index(text.endIndex, offsetBy: -closing - 1)]) {
            text = text.dropLast(closing)
            while let last = text.last, isBlank(last) { text = text.dropLast() }
        }
        return text
    }

    /// A thematic break: three or more of one of `-`, `*`, `_`, blanks between them allowed.
    static func isRule(_ line: Substring) -> Bool {
        guard let marker = line.first, "-*_".contains(marker) else { return false }
        var count = 0
        for character in line {
            if character == marker {
                count += 1
            } else if !isBlank(character) {
                return false
            }
        }
        return count >= 3
    }

    /// The inline spans of one line.
    func inline(_ text: Substring) -> String {
        let characters = Array(text)
        var output = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "`":
                let run = characters[index...].prefix { $0 == "`" }.count
                if let close = Self.closingBackticks(characters, from: index + run, run: run) {
                    output += style.code.open + escapeCode(characters[(index + run)..<close]) + style.code.close
                    index = close + run
                } else {
                    output += String(repeating: style.escapeText("`"), count: run)
                    index += run
                }
                continue
            case "[":
                if let link = Self.link(characters, at: index) {
                    output += style.link(inline(Substring(link.label)), link.url, link.label == link.url)
                    index = link.end
                    continue
                }
            case "*", "_", "~":
                if let span = Self.emphasis(characters, at: index) {
                    let marker =
                        switch (characters[index], span.doubled) {
                        case ("~", _): style.strike
                        case (_, true): style.bold
                        default: style.italic
                        }
                    output += marker.open + inline(Substring(String(characters[span.content]))) + marker.close
                    index = span.end
                    continue
                }
            case "<":
                if let keep = style.keepAngleToken, let close = characters[(index + 1)...].firstIndex(where: { $0 == ">" || $0 == "<" || $0 == "\n" }),
                    characters[close] == ">", let kept = keep(String(characters[(index + 1)..<close]))
                {
                    output += kept
                    index = close + 1
                    continue
                }
            default:
                break
            }
            output += style.escapeText(character)
            index += 1
        }
        return output
    }

    private func escapeCode(_ text: some Sequence<Character>) -> String {
        text.map(style.escapeCode).joined()
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

    /// An emphasis span opening at `start` (`*`, `_`, doubled, or `~~`): whether it is doubled, its content and end.
    private static func emphasis(_ characters: [Character], at start: Int) -> (doubled: Bool, content: Range<Int>, end: Int)? {
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
            if matches, !characters[index - 1].isWhitespace, doubled ? runLength >= 2 : runLength == 1 {
                let after = index + width < characters.count ? characters[index + width] : " "
                if delimiter != "_" || !(after.isLetter || after.isNumber) { return (doubled, contentStart..<index, index + width) }
            }
            index += max(runLength, 1)
        }
        return nil
    }
}
