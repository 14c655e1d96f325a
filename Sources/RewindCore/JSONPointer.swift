/// An RFC 6901 JSON Pointer such as `/balance` or `/items/0/name` (`~1` is `/`, `~0` is `~`).
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    public var tokens: [String]

    public init(tokens: [String]) { self.tokens = tokens }

    /// Parses a pointer; nil if it does not start with `/` or has a bad `~` escape.
    public init?(_ text: String) {
        if text.isEmpty { tokens = []; return }
        guard text.hasPrefix("/") else { return nil }
        var out: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var it = raw.makeIterator()
            while let c = it.next() {
                if c == "~" {
                    switch it.next() {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: return nil
                    }
                } else {
                    token.append(c)
                }
            }
            out.append(token)
        }
        tokens = out
    }

    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension JSONValue {
    /// The value at `pointer`, or nil when nothing is there.
    public func value(at pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let o):
                guard let next = o[token] else { return nil }
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
        switch self {
        case .object(var o):
            self = .null
            defer { self = .object(o) }
            if rest.isEmpty {
                var slot = o.removeValue(forKey: token)
                let why = body(&slot)
                if let slot { o[token] = slot }
                return why
            }
            var child: JSONValue
            var created = false
            if let existing = o.removeValue(forKey: token) {
                child = existing
            } else if createParents {
                child = .object([:])
                created = true
            } else {
                return nil
            }
            let why = child.edit(at: rest, createParents: createParents, body)
            if !(created && why != nil) { o[token] = child }
            return why
        case .array(var a):
            let index: Int
            if token == "-" {
                index = a.count
            } else if let i = JSONValue.arrayIndex(token) {
                index = i
            } else {
                return "\"\(token)\" is not an array index"
            }
            self = .null
            defer { self = .array(a) }
            if rest.isEmpty {
                if index == a.count {
                    var slot: JSONValue? = nil
                    let why = body(&slot)
                    if let slot { a.append(slot) }
                    return why
                }
                guard index < a.count else { return "index \(index) is out of range (array of \(a.count))" }
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
        default:
            return createParents ? "cannot descend into a \(kindName) at \"\(token)\"" : nil
        }
    }
}
