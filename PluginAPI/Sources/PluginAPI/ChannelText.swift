import Foundation

/// Text helpers channel plugins share.
public enum ChannelText {
    /// Splits `text` into parts that each weigh at most `limit` (by default UTF-16 code units, which is how Telegram,
    /// Slack and WhatsApp count), cutting at a paragraph break, else a line break, else a space, else anywhere. Parts
    /// are never empty; the line breaks and spaces at a cut are dropped.
    public static func chunks(_ text: String, limit: Int, weight: (Character) -> Int = { $0.utf16.count }) -> [String] {
        precondition(limit > 0, "a chunk limit must be positive")
        var parts: [String] = []
        var rest = Substring(text)
        while true {
            var total = 0
            var fitted = rest.startIndex
            while fitted < rest.endIndex {
                total += weight(rest[fitted])
                if total > limit { break }
                fitted = rest.index(after: fitted)
            }
            if fitted == rest.endIndex { break }
            // A single character heavier than the limit still goes out, alone.
            if fitted == rest.startIndex { fitted = rest.index(after: rest.startIndex) }
            let window = rest[rest.startIndex..<fitted]
            var cut = fitted
            for separator in ["\n\n", "\n", " "] {
                if let range = window.range(of: separator, options: .backwards), range.lowerBound > window.startIndex {
                    cut = range.lowerBound
                    break
                }
            }
            parts.append(String(rest[rest.startIndex..<cut]))
            rest = rest[cut...].drop { $0 == "\n" || $0 == " " }
            if rest.isEmpty { break }
        }
        if !rest.isEmpty { parts.append(String(rest)) }
        return parts.isEmpty ? [text] : parts
    }
}

extension ChannelText {
    /// Characters Telegram's MarkdownV2 reserves; outside entities each must be escaped with `\`.
    public static let markdownV2Reserved: Set<Character> = ["_", "*", "[", "]", "(", ")", "~", "`", ">", "#", "+", "-", "=", "|", "{", "}", ".", "!", "\\"]

    /// Escapes every reserved character of `text` for MarkdownV2 (plain text inside any entity).
    public static func escapeMarkdownV2(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for character in text {
            if markdownV2Reserved.contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Common Markdown as models write it (`**bold**`, `*italic*`, `_italic_`, `~~strike~~`, `` `code` ``, fenced
    /// blocks, `[text](url)`) rendered as Telegram MarkdownV2; everything else is escaped. Unbalanced markers are
    /// escaped as text. A platform that still rejects the result gets the plain text instead.
    public static func markdownV2(_ text: String) -> String {
        let characters = Array(text)
        var out = ""
        var index = 0
        func starts(_ marker: String, at position: Int) -> Bool {
            let marker = Array(marker)
            guard position + marker.count <= characters.count else { return false }
            return Array(characters[position..<position + marker.count]) == marker
        }
        func find(_ marker: String, from position: Int, sameLine: Bool) -> Int? {
            var cursor = position
            while cursor < characters.count {
                if sameLine && characters[cursor] == "\n" { return nil }
                if starts(marker, at: cursor) { return cursor }
                cursor += 1
            }
            return nil
        }
        func code(_ slice: ArraySlice<Character>) -> String {
            var escaped = ""
            for character in slice {
                if character == "`" || character == "\\" { escaped.append("\\") }
                escaped.append(character)
            }
            return escaped
        }
        while index < characters.count {
            if starts("```", at: index), let close = find("```", from: index + 3, sameLine: false) {
                out += "```" + code(characters[(index + 3)..<close]) + "```"
                index = close + 3
                continue
            }
            if characters[index] == "`", let close = find("`", from: index + 1, sameLine: true), close > index + 1 {
                out += "`" + code(characters[(index + 1)..<close]) + "`"
                index = close + 1
                continue
            }
            let spans: [(open: String, telegram: String)] = [("**", "*"), ("__", "__"), ("~~", "~"), ("*", "_"), ("_", "_")]
            var matched = false
            for span in spans where starts(span.open, at: index) {
                let inner = index + span.open.count
                // Underscores inside words (snake_case, user_names) are not emphasis, as in CommonMark.
                let intraword = { (position: Int) in position >= 0 && position < characters.count && (characters[position].isLetter || characters[position].isNumber) }
                if span.open.hasPrefix("_"), intraword(index - 1) { continue }
                guard inner < characters.count, characters[inner] != " ", var close = find(span.open, from: inner, sameLine: true), close > inner,
                    characters[close - 1] != " "
                else { continue }
                if span.open.hasPrefix("_") {
                    while intraword(close + span.open.count), let next = find(span.open, from: close + 1, sameLine: true) { close = next }
                    if intraword(close + span.open.count) { continue }
                }
                // Inner text is rendered recursively, so `**a [b](c)**` keeps its link.
                out += span.telegram + markdownV2(String(characters[inner..<close])) + span.telegram
                index = close + span.open.count
                matched = true
                break
            }
            if matched { continue }
            if characters[index] == "[", let closeText = find("](", from: index + 1, sameLine: true), let closeURL = find(")", from: closeText + 2, sameLine: true),
                closeText > index + 1, closeURL > closeText + 2
            {
                let label = escapeMarkdownV2(String(characters[(index + 1)..<closeText]))
                var url = ""
                for character in characters[(closeText + 2)..<closeURL] {
                    if character == ")" || character == "\\" { url.append("\\") }
                    url.append(character)
                }
                out += "[" + label + "](" + url + ")"
                index = closeURL + 1
                continue
            }
            if markdownV2Reserved.contains(characters[index]) { out.append("\\") }
            out.append(characters[index])
            index += 1
        }
        return out
    }
}
