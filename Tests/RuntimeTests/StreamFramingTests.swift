import Testing

@testable import Runtime

@Suite struct LineSplitterTests {
    @Test func splitsOnLineFeedAndCarriageReturnLineFeed() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("one\r\ntwo\nthree\r\n".utf8)) == ["one", "two", "three"])
        #expect(splitter.finish() == nil)
    }

    @Test func keepsAPartialLineUntilItsNewlineArrives() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("data: hel".utf8)) == [])
        #expect(splitter.append(Array("lo\nda".utf8)) == ["data: hello"])
        #expect(splitter.append(Array("ta: x\n".utf8)) == ["data: x"])
    }

    @Test func carriageReturnAndLineFeedInDifferentChunksMakeOneTerminator() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("a\r".utf8)) == [])
        #expect(splitter.append(Array("\nb\n".utf8)) == ["a", "b"])
    }

    @Test func multiByteCharacterSplitAcrossChunksDecodesWhole() {
        let bytes = Array("café ☕\n".utf8)
        var splitter = LineSplitter()
        #expect(splitter.append(bytes[..<4]) == [])
        #expect(splitter.append(bytes[4..<8]) == [])
        #expect(splitter.append(bytes[8...]) == ["café ☕"])
    }

    @Test func emptyLinesAreReported() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("a\n\r\n\nb\n".utf8)) == ["a", "", "", "b"])
    }

    @Test func finishReturnsTheUnterminatedTailOnce() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("x\n{\"done\":true}".utf8)) == ["x"])
        #expect(splitter.finish() == "{\"done\":true}")
        #expect(splitter.finish() == nil)
    }
}

@Suite struct ServerSentEventParserTests {
    /// Feeds lines and collects the events they complete, then what `finish()` adds.
    private func events(_ lines: [String], finish: Bool = false) -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        var found = lines.compactMap { parser.feed($0) }
        if finish, let last = parser.finish() { found.append(last) }
        return found
    }

    @Test func eventWithoutANameIsAMessage() {
        #expect(events(["data: {\"a\":1}", ""]) == [ServerSentEvent(event: "message", data: "{\"a\":1}")])
    }

    @Test func namedEventsKeepTheirNameAndTheNameResetsAfterEachEvent() {
        let found = events(["event: message_start", "data: {}", "", "data: plain", ""])
        #expect(found == [ServerSentEvent(event: "message_start", data: "{}"), ServerSentEvent(event: "message", data: "plain")])
    }

    @Test func multipleDataLinesAreJoinedWithNewlines() {
        #expect(events(["data: first", "data: second", "data:third", ""]) == [ServerSentEvent(event: "message", data: "first\nsecond\nthird")])
    }

    @Test func onlyOneSpaceAfterTheColonIsRemoved() {
        #expect(events(["data:  two spaces", ""]) == [ServerSentEvent(event: "message", data: " two spaces")])
    }

    @Test func dataWithoutSpaceAfterColon() {
        #expect(events(["event:ping", "data:{\"x\":true}", ""]) == [ServerSentEvent(event: "ping", data: "{\"x\":true}")])
    }

    @Test func commentsAndUnknownFieldsAreIgnored() {
        let found = events([": keep-alive", "id: 7", "retry: 1000", "data: x", ": another", ""])
        #expect(found == [ServerSentEvent(event: "message", data: "x")])
    }

    @Test func blankLineWithoutDataDispatchesNothing() {
        #expect(events(["", "event: ping", "", ""]) == [])
    }

    @Test func eventNameWithoutDataDoesNotLeakIntoTheNextEvent() {
        #expect(events(["event: ping", "", "data: d", ""]) == [ServerSentEvent(event: "message", data: "d")])
    }

    @Test func finishDeliversAFinalEventThatHadNoBlankLine() {
        #expect(events(["event: message_stop", "data: {\"type\":\"message_stop\"}"]) == [])
        #expect(
            events(["event: message_stop", "data: {\"type\":\"message_stop\"}"], finish: true)
                == [ServerSentEvent(event: "message_stop", data: "{\"type\":\"message_stop\"}")])
    }

    @Test func finishAfterACompleteEventAddsNothing() {
        #expect(events(["data: a", ""], finish: true) == [ServerSentEvent(event: "message", data: "a")])
    }
}
