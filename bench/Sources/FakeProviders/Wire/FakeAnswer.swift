/// A generated answer: text and tool calls, their token counts and stream chunks.
///
/// Tokens are words (whitespace-separated runs), so that tests can predict usage figures exactly.
struct FakeAnswer: Sendable, Equatable {
    enum Finish: Sendable, Equatable {
        case stop
        case toolCalls
        /// Cut at the request's token limit.
        case length
    }

    var text: String
    var toolCalls: [FakeToolCall]
    var finish: Finish
    var promptTokens: Int
    var completionTokens: Int
    /// How many chunks each streamed text (the answer, each call's arguments) is split into.
    var chunkCount: Int

    /// Builds the answer a chat request gets, cutting the text at the request's token limit.
    ///
    /// Past the limit the text is cut after the last word that fits and tool calls are dropped,
    /// as a model stopped mid-answer would never have emitted them.
    init(text: String, toolCalls: [FakeToolCall], chat: FakeChat, chunkCount: Int) {
        let words = Self.wordCount(text)
        if let limit = chat.maxTokens, words > limit {
            self.text = Self.prefix(of: text, words: limit)
            self.toolCalls = []
            self.finish = .length
            self.completionTokens = limit
        } else {
            self.text = text
            self.toolCalls = toolCalls
            self.finish = toolCalls.isEmpty ? .stop : .toolCalls
            self.completionTokens = words + toolCalls.count
        }
        self.promptTokens = chat.promptTokens
        self.chunkCount = max(1, chunkCount)
    }

    /// The default answer: an echo of the last user-side text.
    static func echo(_ chat: FakeChat, chunkCount: Int) -> FakeAnswer {
        FakeAnswer(text: "echo: " + chat.lastUserText, toolCalls: [], chat: chat, chunkCount: chunkCount)
    }

    /// The answer text split for streaming.
    var textChunks: [String] { Self.split(self.text, into: self.chunkCount) }

    /// Splits text into at most `count` pieces of nearly equal length that join back to the text.
    static func split(_ text: String, into count: Int) -> [String] {
        let characters = Array(text)
        let pieces = min(max(1, count), characters.count)
        guard pieces > 0 else { return [] }
        return (0..<pieces).map { index in
            String(characters[(index * characters.count / pieces)..<((index + 1) * characters.count / pieces)])
        }
    }

    static func wordCount(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for character in text {
            if character.isWhitespace {
                inWord = false
            } else if !inWord {
                inWord = true
                count += 1
            }
        }
        return count
    }

    /// The text up to the end of its `words`-th word.
    static func prefix(of text: String, words: Int) -> String {
        guard words > 0 else { return "" }
        var count = 0
        var inWord = false
        var end = text.startIndex
        for index in text.indices {
            if text[index].isWhitespace {
                if inWord, count == words { break }
                inWord = false
            } else {
                if !inWord { count += 1 }
                inWord = true
                end = text.index(after: index)
            }
        }
        return String(text[..<end])
    }
}
