extension FakeJSON {
    /// A JSON object that remembers the order its members were added in.
    ///
    /// Order only matters when writing (responses read like the real APIs'); equality ignores it.
    /// Setting an existing key replaces its value in place, as a JSON parser keeps the last duplicate.
    public struct Object: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
        public typealias Member = (key: String, value: FakeJSON)

        private var members: [Member]

        public init() {
            self.members = []
        }

        /// - Parameter members: the members in writing order; a repeated key keeps its last value.
        public init(_ members: some Sequence<(String, FakeJSON)>) {
            self.members = []
            for (key, value) in members {
                self[key] = value
            }
        }

        public init(dictionaryLiteral elements: (String, FakeJSON)...) {
            self.init(distinct: elements)
        }

        /// Members whose keys are known to be distinct, as a literal's are (a `Dictionary` literal
        /// requires it): skips the per-key search every response object would otherwise pay.
        init(distinct members: [(String, FakeJSON)]) {
            self.members = members.map { (key: $0.0, value: $0.1) }
        }

        public var keys: [String] { self.members.map(\.key) }
        public var count: Int { self.members.count }
        public var isEmpty: Bool { self.members.isEmpty }

        public subscript(key: String) -> FakeJSON? {
            get { self.members.first { $0.key == key }?.value }
            set {
                let index = self.members.firstIndex { $0.key == key }
                switch (index, newValue) {
                case (let index?, let value?): self.members[index].value = value
                case (let index?, nil): self.members.remove(at: index)
                case (nil, let value?): self.members.append((key, value))
                case (nil, nil): break
                }
            }
        }

        public func makeIterator() -> IndexingIterator<[Member]> {
            self.members.makeIterator()
        }

        public static func == (lhs: Object, rhs: Object) -> Bool {
            guard lhs.count == rhs.count else { return false }
            return lhs.members.allSatisfy { rhs[$0.key] == $0.value }
        }
    }
}
