import Foundation

/// Markdown as models write it, turned into WhatsApp's formatting.
///
/// WhatsApp renders `*bold*`, `_italic_`, `~strike~`, `` `code` ``, fenced blocks, `> ` quotes and `- ` lists, and
/// nothing else: links are not markup (a bare URL is linked), headings do not exist. So `**b**` and `__b__` become
/// `*b*`, `*i*` becomes `_i_`, `~~s~~` becomes `~s~`, `[t](u)` becomes `t (u)`, headings become bold lines, and a
/// fence's language tag is dropped. Nothing needs escaping.
///
/// ```swift
/// WhatsAppFormatting.convert("## Plan\n**Step 1**: read [the guide](https://x.dev)")
/// // "*Plan*\n*Step 1*: read the guide (https://x.dev)"
/// ```
enum WhatsAppFormatting {
    static func convert(_ markdown: String) -> String {
        var output: [String] = []
        var inFence = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            let body = line.dropFirst(indent.count)
            if body.hasPrefix("```") {
                let rest = body.dropFirst(3)
                if !inFence, rest.contains("```") {
                    output.append(String(line))
                    continue
                }
                inFence.toggle()
                let info = rest.trimmingCharacters(in: .whitespaces)
                let isLanguageTag = inFence && info.allSatisfy { $0.isLetter || $0.isNumber || "+#._-".contains($0) }
                output.append(String(indent) + "```" + (isLanguageTag ? "" : info))
                continue
            }
            if inFence {
                output.append(String(line))
                continue
            }
            output.append(String(indent) + block(body))
        }
        return output.joined(separator: "\n")
    }

    private static func block(_ line: Substring) -> String {
        if let heading = line.wholeMatch(of: /#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*/) {
            let text = inline(heading.output.1).trimmingCharacters(in: CharacterSet(charactersIn: "*"))
            return text.isEmpty ? "" : "*" + text + "*"
        }
        if line.wholeMatch(of: /([-*_])([ \t]*\1){2,}[ \t]*/) != nil { return "───" }
        if let bullet = line.firstMatch(of: /^[-*+][ \t]+(.*)$/) { return "- " + inline(bullet.output.1) }
        return inline(line)
    }

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
                    // WhatsApp's inline code is a single backtick; longer runs are Markdown's way to hold a backtick.
                    output += "`" + String(characters[(index + run)..<close]) + "`"
                    index = close + run
                } else {
                    output += String(repeating: "`", count: run)
                    index += run
                }
                continue
            case "[":
                if let link = link(characters, at: index) {
                    output += link.label == link.url ? link.url : "\(inline(Substring(link.label))) (\(link.url))"
                    index = link.end
                    continue
                }
            case "*", "_", "~":
                if let span = emphasis(characters, at: index) {
                    output += span.marker + inline(Substring(String(characters[span.content]))) + span.marker
                    index = span.end
                    continue
                }
            default:
                break
            }
            output.append(character)
            index += 1
        }
        return output
    }

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

    private static func link(_ characters: [Character], at start: Int) -> (label: String, url: String, end: Int)? {
        guard let close = characters[(start + 1)...].firstIndex(where: { $0 == "]" || $0 == "[" || $0 == "\n" }), characters[close] == "]",
            close + 1 < characters.count, characters[close + 1] == "(",
            let end = characters[(close + 2)...].firstIndex(where: { $0 == ")" || $0 == " " }), characters[end] == ")"
        else { return nil }
        let label = String(characters[(start + 1)..<close])
        let url = String(characters[(close + 2)..<end])
        guard !label.isEmpty, url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("mailto:") else { return nil }
        return (label, url, end + 1)
    }

    /// A Markdown emphasis span opening at `start`: WhatsApp's marker, the content range and the end.
    private static func emphasis(_ characters: [Character], at start: Int) -> (marker: String, content: Range<Int>, end: Int)? {
        let delimiter = characters[start]
        let doubled = start + 1 < characters.count && characters[start + 1] == delimiter
        if delimiter == "~" && !doubled { return nil }
        let width = doubled ? 2 : 1
        let contentStart = start + width
        guard contentStart < characters.count, !characters[contentStart].isWhitespace else { return nil }
        if delimiter == "_", start > 0, characters[start - 1].isLetter || characters[start - 1].isNumber { return nil }
        var index = contentStart + 1
        while index + width <= characters.count {
            if characters[index] == "`" { return nil }
            let matches = (0..<width).allSatisfy { characters[index + $0] == delimiter }
            let runLength = characters[index...].prefix { $0 == delimiter }.count
            if matches, !characters[index - 1].isWhitespace, doubled ? runLength >= 2 : runLength == 1 {
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
}
