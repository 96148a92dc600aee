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
    static let markdownV2Reserved: Set<Character> = ["_", "*", "[", "]", "(", ")", "~", "`", ">", "#", "+", "-", "=", "|", "{", "}", ".", "!", "\\"]
}
