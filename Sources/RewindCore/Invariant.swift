/// An invariant over the state (SPEC §7): true or false at every position.
///
///     expr  := or ;  or := and ("||" and)* ;  and := not ("&&" not)* ;  not := "!" not | cmp
///     cmp   := value (("==" | "!=" | "<" | "<=" | ">" | ">=") value)?
///     value := number | string | true | false | null | path | "(" expr ")"
///            | sum(path) | count(path) | min(path) | max(path) | all(path OP value) | any(path OP value)
///     path  := service "/" stream "/" key ("/" key)*      # "*" matches any one segment
public indirect enum InvariantExpr: Sendable, Equatable {
    case literal(JSONValue)
    /// A path without `*`: its value, or null when missing.
    case value(InvariantPath)
    case not(InvariantExpr)
    case and(InvariantExpr, InvariantExpr)
    case or(InvariantExpr, InvariantExpr)
    case compare(InvariantExpr, CompareOp, InvariantExpr)
    case aggregate(Int)  // index into `Invariant.aggregates`
}

public enum CompareOp: String, Sendable, Equatable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="

    /// `==`/`!=` compare JSON values (numbers by value); the others hold only between two
    /// numbers or two strings (by code points).
    public func holds(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch self {
        case .eq: return a == b
        case .ne: return a != b
        default:
            if let x = a.numberValue, let y = b.numberValue {
                switch self {
                case .lt: return x < y
                case .le: return x <= y
                case .gt: return x > y
                default: return x >= y
                }
            }
            if case .string(let s) = a, case .string(let t) = b {
                // Strings order by code points, as the canonical text does.
                let x = JSONKey(s), y = JSONKey(t)
                switch self {
                case .lt: return x < y
                case .le: return x <= y
                case .gt: return x > y
                default: return x >= y
                }
            }
            return false
        }
    }
}

/// `service/stream/key/…`; `nil` segments are `*`.
public struct InvariantPath: Sendable, Equatable, CustomStringConvertible {
    public var segments: [String?]
    public var hasWildcard: Bool { segments.contains(nil) }
    /// As written in an invariant: a segment that is not all path characters (or is a literal
    /// `*`) is a JSON string.
    public var description: String {
        segments.map { segment in
            guard let segment else { return "*" }
            if !segment.isEmpty, !segment.sameCodePoints("*"), segment.allSatisfy(InvariantParser.isPathCharacter) { return segment }
            return JSONValue.string(segment).jsonText
        }.joined(separator: "/")
    }

    public func matches(service: String, stream: String) -> Bool {
        (segments[0].map { $0.sameCodePoints(service) } ?? true) && (segments[1].map { $0.sameCodePoints(stream) } ?? true)
    }

    /// The values this path selects inside one stream's document.
    public func select(in document: JSONValue) -> [JSONValue] {
        var current = [document]
        for segment in segments.dropFirst(2) {
            var next: [JSONValue] = []
            for v in current {
                switch v {
                case .object(let o):
                    if let key = segment {
                        if let x = o[JSONKey(key)] { next.append(x) }
                    } else {
                        next.append(contentsOf: o.keys.sorted().map { o[$0]! })
                    }
                case .array(let a):
                    if let key = segment {
                        if let i = JSONValue.arrayIndex(key), i < a.count { next.append(a[i]) }
                    } else {
                        next.append(contentsOf: a)
                    }
                default: break
                }
            }
            current = next
        }
        return current
    }

    public func select(in state: State) -> [JSONValue] {
        var out: [JSONValue] = []
        for service in state.services.keys.sorted() where segments[0] == nil || segments[0]!.sameCodePoints(service.string) {
            let streams = state.services[service]!
            for stream in streams.keys.sorted() where segments[1] == nil || segments[1]!.sameCodePoints(stream.string) {
                out += select(in: streams[stream]!)
            }
        }
        return out
    }
}

/// An aggregate over a path: sum, count, min, max, or all/any of `path OP value`.
public struct InvariantAggregate: Sendable, Equatable {
    public enum Kind: String, Sendable { case sum, count, min, max, all, any }
    public var kind: Kind
    public var path: InvariantPath
    public var op: CompareOp?
    public var operand: InvariantExpr?
}

/// Why an invariant could not be read, and at which column (1-based).
public struct InvariantSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: Int
    public var message: String
    public var description: String { "column \(column): \(message)" }
}

/// A parsed invariant.
public struct Invariant: Sendable, Equatable {
    public var text: String
    public var root: InvariantExpr
    public var aggregates: [InvariantAggregate]
    /// Every path the invariant reads (to know which transitions can change it).
    public var paths: [InvariantPath]

    public init(_ text: String) throws(InvariantSyntaxError) {
        guard text.utf8.count <= InvariantParser.maxLength else {
            throw InvariantSyntaxError(column: 1, message: "longer than \(InvariantParser.maxLength >> 10) KB: not an invariant")
        }
        var p = InvariantParser(text)
        let root = try p.parseExpression()
        p.skipSpace()
        guard p.atEnd else { throw p.fail("unexpected \(p.describeHere())") }
        self.text = text
        self.root = root
        aggregates = p.aggregates
        paths = p.paths
    }

    /// Evaluates against a whole state (each aggregate computed from scratch).
    public func holds(in state: State) -> Bool {
        var values: [JSONValue] = []
        for a in aggregates { values.append(Invariant.compute(a, selection: a.path.select(in: state), state: state, aggregates: values)) }
        return InvariantEvaluator(state: state, aggregateValues: values).truth(root)
    }

    static func compute(_ a: InvariantAggregate, selection: [JSONValue], state: State, aggregates: [JSONValue]) -> JSONValue {
        switch a.kind {
        case .count: return .int(Int64(selection.count))
        case .sum:
            var total: JSONValue = .int(0)
            for v in selection where v.isNumber { total = JSONValue.add(total, v) ?? total }
            return total
        case .min, .max:
            let numbers = selection.filter(\.isNumber)
            guard var best = numbers.first else { return .null }
            for n in numbers.dropFirst() {
                if a.kind == .min ? n.numberValue! < best.numberValue! : n.numberValue! > best.numberValue! { best = n }
            }
            return best
        case .all, .any:
            let operand = InvariantEvaluator(state: state, aggregateValues: aggregates).value(a.operand!)
            let test = { (v: JSONValue) in a.op!.holds(v, operand) }
            return .bool(a.kind == .all ? selection.allSatisfy(test) : selection.contains(where: test))
        }
    }
}

/// Evaluates expressions given the aggregates' current values.
struct InvariantEvaluator {
    let state: State
    let aggregateValues: [JSONValue]

    func value(_ e: InvariantExpr) -> JSONValue {
        switch e {
        case .literal(let v): return v
        case .value(let path):
            guard let s = path.segments[0], let t = path.segments[1], let doc = state.document(service: s, stream: t) else { return .null }
            return path.select(in: doc).first ?? .null
        case .aggregate(let i): return aggregateValues[i]
        default: return .bool(truth(e))
        }
    }

    func truth(_ e: InvariantExpr) -> Bool {
        switch e {
        case .not(let x): return !truth(x)
        case .and(let a, let b): return truth(a) && truth(b)
        case .or(let a, let b): return truth(a) || truth(b)
        case .compare(let a, let op, let b): return op.holds(value(a), value(b))
        default: return value(e) == .bool(true)
        }
    }
}
