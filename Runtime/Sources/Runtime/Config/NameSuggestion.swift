/// "Did you mean …?" for a mistyped name: the closest of the valid names by edit distance, when it is close enough
/// to be what was meant. Shared by unknown configuration keys and unknown CLI commands.
///
/// ```swift
/// NameSuggestion.closest(to: "gatway", among: ["gateway", "init", "trace"])   // "gateway"
/// ```
public enum NameSuggestion {
    /// The candidate nearest to `name`, if it is at most `max(2, name.count / 3)` edits away.
    public static func closest(to name: String, among candidates: [String]) -> String? {
        guard let nearest = candidates.min(by: { editDistance($0, name) < editDistance($1, name) }) else { return nil }
        return editDistance(nearest, name) <= max(2, name.count / 3) ? nearest : nil
    }

    /// The edit distance with transpositions (optimal string alignment): insertions, deletions, substitutions and
    /// swaps of two neighbouring characters each count one, so "stauts" is one edit from "status", not two.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var before = [Int](), previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], before[j - 2] + 1) }
            }
            (before, previous) = (previous, current)
        }
        return previous[b.count]
    }
}
