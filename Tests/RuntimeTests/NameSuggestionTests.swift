import Testing

@testable import Runtime

@Suite struct NameSuggestionTests {
    @Test("typos find the name meant: a swap of neighbours is one edit")
    func suggestions() {
        #expect(NameSuggestion.editDistance("stauts", "status") == 1)
        #expect(NameSuggestion.editDistance("gatway", "gateway") == 1)
        #expect(NameSuggestion.editDistance("", "abc") == 3)
        #expect(NameSuggestion.closest(to: "stauts", among: ["start", "status", "stop", "reload"]) == "status")
        #expect(NameSuggestion.closest(to: "prot", among: ["bind", "port", "auth"]) == "port")
        #expect(NameSuggestion.closest(to: "quantum", among: ["gateway", "init", "trace"]) == nil)
    }
}
