/// What one event did to its stream's document, with every expression of its rule evaluated:
/// applying it to the document before the event gives the document after it, with neither the
/// event nor the rules at hand (the fold is deterministic). The timeline index keeps it instead
/// of the whole document when the document is large, so that storing "the document after each
/// event" costs what the events cost, not the document's size each time (a stream that gains a
/// key per event would otherwise grow the index as the square of its length).
public enum DocumentChange: Sendable, Equatable {
    /// The document became this (nil: removed): a squashed or row-image event.
    case replace(JSONValue?)
    /// The document (created as `{}` when absent) went through these, in order.
    case ops([Op])

    /// A rule's op with its value evaluated, or the default fold's merge of `data`.
    public enum Op: Sendable, Equatable {
        case set([String], JSONValue)
        case inc([String], JSONValue)
        case unset([String])
        case append([String], JSONValue)
        /// The `merge` op: an object merged (RFC 7386) into the document.
        case merge(JSONValue)
        /// The default fold: `data` merged (RFC 7386) into the document, whatever it is.
        case patch(JSONValue)
        case delete
        /// No change but creating a missing document as `{}`: what an op that could not be
        /// evaluated still did.
        case ensure

        /// The op of a rule with its expression evaluated against `event`.
        static func resolve(_ op: RuleOp, _ event: Event) -> Result<Op, RuleProblem> {
            switch op {
            case .set(let p, let e): return e.evaluate(event).map { .set(p.tokens, $0) }
            case .inc(let p, let e): return e.evaluate(event).map { .inc(p.tokens, $0) }
            case .unset(let p): return .success(.unset(p.tokens))
            case .append(let p, let e): return e.evaluate(event).map { .append(p.tokens, $0) }
            case .merge(let e): return e.evaluate(event).map { .merge($0) }
            case .delete: return .success(.delete)
            }
        }

        /// Applies the op to the slot (nil: no document); returns why it could not apply, or nil.
        /// Every op but `delete` first creates a missing document as `{}` (SPEC §4).
        func apply(to slot: inout JSONValue?) -> String? {
            if case .delete = self {
                slot = nil
                return nil
            }
            if slot == nil { slot = .emptyObject }
            switch self {
            case .set(let tokens, let v):
                return slot!.edit(at: tokens[...], createParents: true) { s in s = v; return nil }
            case .inc(let tokens, let by):
                guard by.isNumber else { return "by is \(by.kindName), not a number" }
                return slot!.edit(at: tokens[...], createParents: true) { s in
                    guard let current = s else { s = by; return nil }
                    let pointer = JSONPointer(tokens: tokens)
                    guard let sum = JSONValue.add(current, by) else { return "\(pointer) is \(current.kindName), not a number" }
                    // JSON has no infinity: a sum past the largest double cannot be kept.
                    if case .double(let d) = sum, !d.isFinite { return "\(pointer) + \(by.jsonText) is not a finite number" }
                    s = sum
                    return nil
                }
            case .unset(let tokens):
                return slot!.edit(at: tokens[...], createParents: false) { s in s = nil; return nil }
            case .append(let tokens, let v):
                return slot!.edit(at: tokens[...], createParents: true) { s in
                    // Taken out of the slot first: matching it in place would keep a second
                    // reference to the array, and every append would copy it (a stream that
                    // appends per event then folds as the square of its length).
                    guard var current = s else { s = .array([v]); return nil }
                    s = nil
                    defer { s = current }
                    return current.appendElement(v) ? nil : "\(JSONPointer(tokens: tokens)) is \(current.kindName), not an array"
                }
            case .merge(let v):
                guard case .object = v else { return "merge needs an object, got \(v.kindName)" }
                slot!.mergePatch(v)
                return nil
            case .patch(let v):
                slot!.mergePatch(v)
                return nil
            case .delete, .ensure:
                return nil
            }
        }
    }

    /// Makes the change to `slot` (nil: no document).
    public func apply(to slot: inout JSONValue?) {
        switch self {
        case .replace(let doc): slot = doc
        case .ops(let ops):
            if slot == nil { slot = .emptyObject }
            for op in ops { _ = op.apply(to: &slot) }
        }
    }

    // MARK: text

    /// Appends the change as JSON text: `{"r": doc}` or `{"r": null}` for a replacement, else an
    /// array of ops, each an array: `["s", tokens, v]`, `["i", tokens, by]`, `["u", tokens]`,
    /// `["a", tokens, v]`, `["m", v]`, `["p", v]`, `["d"]`, `["e"]` (a pointer as its list of tokens).
    public func write(to out: inout [UInt8]) {
        func tokens(_ t: [String]) {
            out.append(UInt8(ascii: "["))
            for (i, s) in t.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(s, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        func op(_ code: StaticString, _ t: [String]?, _ v: JSONValue?) {
            out.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "\""), code.utf8Start.pointee, UInt8(ascii: "\"")])
            if let t { out.append(UInt8(ascii: ",")); tokens(t) }
            if let v { out.append(UInt8(ascii: ",")); v.write(to: &out) }
            out.append(UInt8(ascii: "]"))
        }
        switch self {
        case .replace(let doc):
            out.append(contentsOf: Array(#"{"r":"#.utf8))
            if let doc { doc.write(to: &out) } else { out.append(contentsOf: Array("null".utf8)) }
            out.append(UInt8(ascii: "}"))
        case .ops(let ops):
            out.append(UInt8(ascii: "["))
            for (i, o) in ops.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                switch o {
                case .set(let t, let v): op("s", t, v)
                case .inc(let t, let v): op("i", t, v)
                case .unset(let t): op("u", t, nil)
                case .append(let t, let v): op("a", t, v)
                case .merge(let v): op("m", nil, v)
                case .patch(let v): op("p", nil, v)
                case .delete: op("d", nil, nil)
                case .ensure: op("e", nil, nil)
                }
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// Reads the text `write` made; nil if it is not such a text.
    public init?(text: UnsafeBufferPointer<UInt8>) {
        guard let value = try? JSONParser.parse(text, depthLimit: 4 * JSONParser.maxDepth + 4) else { return nil }
        self.init(value: value)
    }

    init?(value: JSONValue) {
        switch value {
        case .object(let o):
            guard o.count == 1, let doc = o["r"] else { return nil }
            self = .replace(doc.isNull ? nil : doc)
        case .array(let items):
            var ops: [Op] = []
            ops.reserveCapacity(items.count)
            for item in items {
                guard case .array(let a) = item, let code = a.first?.stringValue else { return nil }
                func tokens() -> [String]? {
                    guard a.count >= 2, case .array(let t) = a[1] else { return nil }
                    let strings = t.compactMap(\.stringValue)
                    return strings.count == t.count ? strings : nil
                }
                switch (code, a.count) {
                case ("s", 3): guard let t = tokens() else { return nil }; ops.append(.set(t, a[2]))
                case ("i", 3): guard let t = tokens() else { return nil }; ops.append(.inc(t, a[2]))
                case ("u", 2): guard let t = tokens() else { return nil }; ops.append(.unset(t))
                case ("a", 3): guard let t = tokens() else { return nil }; ops.append(.append(t, a[2]))
                case ("m", 2): ops.append(.merge(a[1]))
                case ("p", 2): ops.append(.patch(a[1]))
                case ("d", 1): ops.append(.delete)
                case ("e", 1): ops.append(.ensure)
                default: return nil
                }
            }
            self = .ops(ops)
        default:
            return nil
        }
    }
}
