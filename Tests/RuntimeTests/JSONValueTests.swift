import Foundation
import Testing

@testable import Runtime

/// The hand-written JSON reader and writer on the hot path, checked against Foundation's.
@Suite struct JSONValueTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5e3,"g":""}"#,
        #"[]"#, #"{}"#, #""plain""#, "0", "-0.125", "1e-7",
        #"{"esc":"quote \" backslash \\ slash \/ nl \n tab \t cr \r bs \b ff \f"}"#,
        #"{"unicode":"caf\u00e9 \ud83d\ude00 日本"}"#,
    ])
    func parsesLikeFoundation(text: String) throws {
        let mine = try JSONValue(parsing: text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(mine == foundation)
        #expect(try JSONValue(parsing: mine.jsonText) == mine, "what it writes, it reads back")
    }

    @Test(arguments: [#"{"a":1"#, #"{"a" 1}"#, "[1,]", "tru", #""unterminated"#, "01x", "{} extra", #"{"a":"\x"}"#, "\"tab\there\"", "", "1."])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func writesValidEscapedCompactSortedJSON() throws {
        let value = JSONValue.object(["z": .number(1), "a": .string("line\nbreak \"q\" \u{01}"), "m": .array([.null, .bool(true), .number(0.5)])])
        #expect(value.jsonText == #"{"a":"line\nbreak \"q\" \u0001","m":[null,true,0.5],"z":1}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(value.jsonText.utf8)) as? [String: Any])
        #expect(object["a"] as? String == "line\nbreak \"q\" \u{01}")
        #expect(JSONValue.number(.infinity).jsonText == "null")
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
    }
}
