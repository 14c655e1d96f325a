/// A value an op uses: a literal from the rules file, or a selection from the event.
public enum RuleExpression: Sendable, Equatable {
    case literal(JSONValue)
    /// `$.data.amount` is `.select(["data", "amount"], negate: false)`; `-$.…` negates.
    case select([String], negate: Bool)

    /// Parses a string from the rules file: `$.…` and `-$.…` select, anything else is literal.
    public static func parse(_ text: String) -> RuleExpression {
        var negate = false
        var body = Substring(text)
        if body.hasPrefix("-$") { negate = true; body = body.dropFirst() }
        guard body == "$" || body.hasPrefix("$.") else { return .literal(.string(text)) }
        let path = body == "$" ? [] : body.dropFirst(2).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return .select(path, negate: negate)
    }

    /// Evaluates against an event. A missing field is `null`; nil means the value cannot be
    /// made (negating something that is not a number), with the reason.
    public func evaluate(_ event: Event) -> Result<JSONValue, RuleProblem> {
        switch self {
        case .literal(let v): return .success(v)
        case .select(let path, let negate):
            var v = RuleExpression.select(path, from: event)
            if negate {
                guard let n = v.negated else {
                    return .failure(RuleProblem("-$.\(path.joined(separator: ".")) is \(v.kindName), not a number"))
                }
                v = n
            }
            return .success(v)
        }
    }

    static func select(_ path: [String], from event: Event) -> JSONValue {
        guard let head = path.first else { return event.jsonObject }
        var current: JSONValue
        switch head {
        case "data": current = event.data
        case "meta": current = event.meta ?? .null
        case "id": current = .string(event.id)
        case "ts": current = event.tsRaw
        case "type": current = .string(event.type)
        case "stream": current = .string(event.stream)
        case "service": current = .string(event.service)
        default: current = event.extra[JSONKey(head)] ?? .null
        }
        for key in path.dropFirst() {
            switch current {
            case .object(let o): current = o[JSONKey(key)] ?? .null
            case .array(let a):
                guard let i = JSONValue.arrayIndex(key), i < a.count else { return .null }
                current = a[i]
            default: return .null
            }
        }
        return current
    }
}

public struct RuleProblem: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// One step of a rule, applied to the stream's document.
public enum RuleOp: Sendable, Equatable {
    case set(JSONPointer, RuleExpression)
    case inc(JSONPointer, by: RuleExpression)
    case unset(JSONPointer)
    case append(JSONPointer, RuleExpression)
    case merge(RuleExpression)
    case delete

    public var name: String {
        switch self {
        case .set: return "set"
        case .inc: return "inc"
        case .unset: return "unset"
        case .append: return "append"
        case .merge: return "merge"
        case .delete: return "delete"
        }
    }
}

/// What an event type does in a service: its ops, and whether it can be taken back.
public struct TypeRule: Sendable, Equatable {
    public var ops: [RuleOp]
    /// Lines in the rules file of each op, for messages.
    public var opLines: [Int]
    public var irreversible: Bool

    public init(ops: [RuleOp], opLines: [Int]? = nil, irreversible: Bool = false) {
        self.ops = ops
        self.opLines = opLines ?? Array(repeating: 0, count: ops.count)
        self.irreversible = irreversible
    }
}

/// The rules file (SPEC §4): service → event type → rule.
public struct Rules: Sendable, Equatable {
    /// Keyed by code points, as the log's names are.
    public var services: [JSONKey: [JSONKey: TypeRule]]
    /// A digest of the file's text: derived data built under other rules is not trusted.
    public var fingerprint: String

    public init(services: [JSONKey: [JSONKey: TypeRule]] = [:], fingerprint: String = "none") {
        self.services = services
        self.fingerprint = fingerprint
    }

    public static let none = Rules()

    @inline(__always) public func rule(service: String, type: String) -> TypeRule? {
        if services.isEmpty { return nil }
        return services[JSONKey(service)]?[JSONKey(type)]
    }
}
