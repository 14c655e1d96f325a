/// A JSON document. Numbers that are written as integers and fit 64 bits stay exact (`.int`);
/// every other number is a `Double`. Objects are unordered: they serialise with sorted keys,
/// which makes a state's text (and so its hash) canonical. Member names are `JSONKey`s and
/// strings compare by code points, never by Swift's canonical equivalence.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONKey: JSONValue])

    public static let emptyObject = JSONValue.object([:])

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var objectValue: [JSONKey: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as a Double, for either representation.
    public var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var isNumber: Bool { numberValue != nil }

    /// A short name of the kind, for messages: "object", "string", …
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Appends to an array in place (false: not an array). The array is taken out of `self`
    /// before it grows, so it is uniquely referenced and not copied.
    public mutating func appendElement(_ v: JSONValue) -> Bool {
        guard case .array(var a) = self else { return false }
        self = .null
        a.append(v)
        self = .array(a)
        return true
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[JSONKey(key)] }
        return nil
    }

    public subscript(key: JSONKey) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension JSONValue: Equatable {
    /// JSON equality: numbers compare by value (`1 == 1.0`), objects ignore key order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
            return Double(a) == b && (b.magnitude < 9.2e18 ? Int64(b) == a : false)
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a.sameCodePoints(b)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }
}

extension JSONValue {
    /// Adds two numbers, staying exact for integers unless the sum overflows.
    public static func add(_ a: JSONValue, _ b: JSONValue) -> JSONValue? {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (sum, overflow) = x.addingReportingOverflow(y)
            return overflow ? .double(Double(x) + Double(y)) : .int(sum)
        default:
            guard let x = a.numberValue, let y = b.numberValue else { return nil }
            return .double(x + y)
        }
    }

    /// The negated number, or nil for anything that is not a number.
    public var negated: JSONValue? {
        switch self {
        case .int(let i): return i == .min ? .double(-Double(i)) : .int(-i)
        case .double(let d): return .double(-d)
        default: return nil
        }
    }
}
