/// A JSON value as the fake providers read requests and write responses.
///
/// The fake servers keep their own small JSON type rather than `Codable` models so that a test can
/// assert on exactly what a client sent (including fields no model type anticipates), and so that
/// responses keep the key order the real APIs use. Objects compare equal regardless of key order,
/// as JSON objects do.
///
/// ```swift
/// let body = try FakeJSON(parsing: #"{"model":"gpt-4o","stream":true}"#)
/// body["model"]?.stringValue   // "gpt-4o"
/// body == ["stream": true, "model": "gpt-4o"]   // true
/// ```
public enum FakeJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([FakeJSON])
    case object(Object)
}

extension FakeJSON {
    /// The member named `key` when this is an object, otherwise nil.
    public subscript(key: String) -> FakeJSON? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The element at `index` when this is an array and the index is in range, otherwise nil.
    public subscript(index: Int) -> FakeJSON? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    public var doubleValue: Double? {
        guard case .number(let value) = self else { return nil }
        return value
    }

    /// The number as an `Int` when it is integral and representable, otherwise nil.
    public var intValue: Int? {
        guard case .number(let value) = self, value.rounded(.towardZero) == value else { return nil }
        return Int(exactly: value)
    }

    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    public var arrayValue: [FakeJSON]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    public var objectValue: Object? {
        guard case .object(let value) = self else { return nil }
        return value
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension FakeJSON: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension FakeJSON: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension FakeJSON: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension FakeJSON: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension FakeJSON: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: FakeJSON...) { self = .array(elements) }
}

extension FakeJSON: ExpressibleByDictionaryLiteral {
    /// Keeps the literal's key order, which is the order the member is written in.
    public init(dictionaryLiteral elements: (String, FakeJSON)...) {
        self = .object(Object(distinct: elements))
    }
}

extension FakeJSON: CustomStringConvertible {
    /// The compact JSON text of the value.
    public var description: String { self.jsonText }
}
