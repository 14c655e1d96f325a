/// An RFC 6901 JSON Pointer such as `/balance` or `/items/0/name` (`~1` is `/`, `~0` is `~`).
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    public var tokens: [String]

    public init(tokens: [String]) { self.tokens = tokens }

    /// Parses a pointer; nil if it does not start with `/` or has a bad `~` escape. Read by
    /// code points: a `/` followed by a combining mark still separates tokens.
    public init?(_ text: String) {
        var out: [String] = []
        var token = String.UnicodeScalarView()
        var it = text.unicodeScalars.makeIterator()
        guard let first = it.next() else { tokens = []; return }
        guard first == "/" else { return nil }
        while let c = it.next() {
            switch c {
            case "/":
                out.append(String(token))
                token = String.UnicodeScalarView()
            case "~":
                switch it.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default: return nil
                }
            default:
                token.append(c)
            }
        }
        out.append(String(token))
        tokens = out
    }

    public var description: String { tokens.map { "/" + JSONPointer.escape($0) }.joined() }

    /// A token as a pointer writes it: `~` as `~0`, `/` as `~1` (by code points).
    public static func escape(_ token: String) -> String {
        var out = String.UnicodeScalarView()
        for c in token.unicodeScalars {
            switch c {
            case "~": out.append(contentsOf: "~0".unicodeScalars)
            case "/": out.append(contentsOf: "~1".unicodeScalars)
            default: out.append(c)
            }
        }
        return String(out)
    }

    /// Tokens compare by code points.
    public static func == (a: JSONPointer, b: JSONPointer) -> Bool {
        a.tokens.count == b.tokens.count && zip(a.tokens, b.tokens).allSatisfy { $0.sameCodePoints($1) }
    }

    public func hash(into hasher: inout Hasher) {
        for t in tokens { hasher.combine(JSONKey(t)) }
    }
}

extension JSONValue {
    /// The value at `pointer`, or nil when nothing is there.
    public func value(at pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let o):
                guard let next = o[JSONKey(token)] else { return nil }
                current = next
            case .array(let a):
                guard let i = JSONValue.arrayIndex(token), i < a.count else { return nil }
                current = a[i]
            default:
                return nil
            }
        }
        return current
    }

    /// A canonical array index token ("0", "17"; not "01" or "-1").
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              token == "0" || !token.hasPrefix("0") else { return nil }
        return Int(token)
    }

    /// Edits the slot at `tokens` in place. `body` gets the slot (nil when missing) and may
    /// set it (nil removes it); it returns a reason when the edit cannot apply.
    /// Missing parent objects are created when `createParents` is set; otherwise a missing
    /// parent makes the edit a no-op. Returns the reason the edit could not apply, if any.
    public mutating func edit(at tokens: ArraySlice<String>, createParents: Bool,
                              _ body: (inout JSONValue?) -> String?) -> String? {
        guard let token = tokens.first else { return "the empty pointer names the whole document" }
        let rest = tokens.dropFirst()
        // The container is copied out with `if case`, not bound by `switch self`: a switch keeps
        // its subject alive through the case, so the copy would be shared and the first change
        // would copy the whole container (and what it holds) on every edit.
        if case .object(let existing) = self {
            var o = existing
            self = .null
            defer { self = .object(o) }
            let key = JSONKey(token)
            if rest.isEmpty {
                var slot = o.removeValue(forKey: key)
                let why = body(&slot)
                if let slot { o[key] = slot }
                return why
            }
            var child: JSONValue
            var created = false
            if let existing = o.removeValue(forKey: key) {
                child = existing
            } else if createParents {
                child = .object([:])
                created = true
            } else {
                return nil
            }
            let why = child.edit(at: rest, createParents: createParents, body)
            if !(created && why != nil) { o[key] = child }
            return why
        }
        if case .array(let existing) = self {
            let index: Int
            if token.sameCodePoints("-") {
                index = existing.count
            } else if let i = JSONValue.arrayIndex(token) {
                index = i
            } else {
                // Removing what is not there does nothing; writing to it cannot apply.
                return createParents ? "\"\(token)\" is not an array index" : nil
            }
            var a = existing
            self = .null
            defer { self = .array(a) }
            if rest.isEmpty {
                if index == a.count {
                    var slot: JSONValue? = nil
                    let why = body(&slot)
                    if let slot { a.append(slot) }
                    return why
                }
                guard index < a.count else { return createParents ? "index \(index) is out of range (array of \(a.count))" : nil }
                var slot: JSONValue? = a[index]
                a[index] = .null
                let why = body(&slot)
                if let slot { a[index] = slot } else { a.remove(at: index) }
                return why
            }
            guard index < a.count else {
                return createParents ? "index \(index) is out of range (array of \(a.count))" : nil
            }
            var child = a[index]
            a[index] = .null
            let why = child.edit(at: rest, createParents: createParents, body)
            a[index] = child
            return why
        }
        return createParents ? "cannot descend into a \(kindName) at \"\(token)\"" : nil
    }
}
