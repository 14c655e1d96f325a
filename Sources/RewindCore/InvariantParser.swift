/// The recursive-descent parser of `Invariant`; errors name the column. Its recursion and the
/// tree it builds are bounded: parentheses and `!` nest at most `maxNesting` deep, and an
/// invariant has at most `maxOperators` operators (so evaluating it recurses as little).
struct InvariantParser {
    static let maxNesting = 64
    static let maxOperators = 256
    static let maxLength = 64 << 10

    let chars: [Character]
    var pos = 0
    var aggregates: [InvariantAggregate] = []
    var paths: [InvariantPath] = []
    var nesting = 0
    var operators = 0

    init(_ text: String) { chars = Array(text) }

    var atEnd: Bool { pos >= chars.count }

    func fail(_ message: String, at: Int? = nil) -> InvariantSyntaxError {
        InvariantSyntaxError(column: (at ?? pos) + 1, message: message)
    }

    func describeHere() -> String { atEnd ? "end of expression" : "'\(chars[pos])'" }

    mutating func skipSpace() { while !atEnd && chars[pos].isWhitespace { pos += 1 } }

    mutating func accept(_ token: String) -> Bool {
        skipSpace()
        let t = Array(token)
        guard pos + t.count <= chars.count, Array(chars[pos..<(pos + t.count)]) == t else { return false }
        pos += t.count
        return true
    }

    mutating func countOperator() throws(InvariantSyntaxError) {
        operators += 1
        guard operators <= InvariantParser.maxOperators else {
            throw fail("more than \(InvariantParser.maxOperators) operators: split the invariant")
        }
    }

    mutating func nest() throws(InvariantSyntaxError) {
        nesting += 1
        guard nesting <= InvariantParser.maxNesting else { throw fail("nested more than \(InvariantParser.maxNesting) deep") }
    }

    mutating func parseExpression() throws(InvariantSyntaxError) -> InvariantExpr {
        var left = try parseAnd()
        while accept("||") { try countOperator(); left = .or(left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws(InvariantSyntaxError) -> InvariantExpr {
        var left = try parseNot()
        while accept("&&") { try countOperator(); left = .and(left, try parseNot()) }
        return left
    }

    mutating func parseNot() throws(InvariantSyntaxError) -> InvariantExpr {
        skipSpace()
        if !atEnd && chars[pos] == "!" && !(pos + 1 < chars.count && chars[pos + 1] == "=") {
            pos += 1
            try countOperator()
            try nest()
            defer { nesting -= 1 }
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    mutating func parseOperator() -> CompareOp? {
        for op in ["==", "!=", "<=", ">=", "<", ">"] where accept(op) { return CompareOp(rawValue: op) }
        return nil
    }

    mutating func parseComparison() throws(InvariantSyntaxError) -> InvariantExpr {
        let left = try parseValue()
        if let op = parseOperator() { try countOperator(); return .compare(left, op, try parseValue()) }
        return left
    }

    static func isPathCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || "_-.:@$*~+#%".contains(c)
    }

    mutating func parseValue() throws(InvariantSyntaxError) -> InvariantExpr {
        skipSpace()
        guard !atEnd else { throw fail("expected a value, found end of expression") }
        let start = pos
        let c = chars[pos]
        if c == "(" {
            pos += 1
            try nest()
            defer { nesting -= 1 }
            let e = try parseExpression()
            guard accept(")") else { throw fail("expected ')', found \(describeHere())") }
            return e
        }
        if c == "\"" {
            // A string followed by "/" is a path's first segment, written as a JSON string.
            let string = pos
            _ = try parseString()
            if !atEnd && chars[pos] == "/" {
                pos = string
                return .value(try parsePath(wildcardAllowed: false))
            }
            pos = string
            return .literal(.string(try parseString()))
        }
        if c == "-" || c.isNumber, !looksLikePath() { return .literal(try parseNumber()) }
        // A word: a keyword, a function or a path.
        var end = pos
        while end < chars.count && InvariantParser.isPathCharacter(chars[end]) { end += 1 }
        let word = String(chars[pos..<end])
        if end < chars.count && chars[end] == "/" { return .value(try parsePath(wildcardAllowed: false)) }
        var after = end
        while after < chars.count && chars[after].isWhitespace { after += 1 }
        if let kind = InvariantAggregate.Kind(rawValue: word), after < chars.count, chars[after] == "(" {
            pos = after + 1
            try nest()
            defer { nesting -= 1 }
            let path = try parsePath(wildcardAllowed: true)
            var aggregate = InvariantAggregate(kind: kind, path: path)
            if kind == .all || kind == .any {
                guard let op = parseOperator() else { throw fail("\(word)(…) needs a comparison, such as \(word)(\(path) >= 0)") }
                aggregate.op = op
                aggregate.operand = try parseValue()
            }
            guard accept(")") else { throw fail("expected ')', found \(describeHere())") }
            aggregates.append(aggregate)
            return .aggregate(aggregates.count - 1)
        }
        pos = end
        switch word {
        case "true": return .literal(.bool(true))
        case "false": return .literal(.bool(false))
        case "null": return .literal(.null)
        case "": throw fail("expected a value, found \(describeHere())", at: start)
        default:
            throw fail("'\(word)' is not a value: a path is service/stream/key, a function is sum, count, min, max, all or any", at: start)
        }
    }

    /// A word that continues with "/" is a path, even when it starts with a digit.
    func looksLikePath() -> Bool {
        var end = pos
        while end < chars.count && InvariantParser.isPathCharacter(chars[end]) { end += 1 }
        return end < chars.count && chars[end] == "/"
    }

    mutating func parsePath(wildcardAllowed: Bool) throws(InvariantSyntaxError) -> InvariantPath {
        skipSpace()
        let start = pos
        var segments: [String?] = []
        while true {
            if !atEnd && chars[pos] == "\"" {
                // A quoted segment holds any name ("account A", a slash, a literal "*").
                segments.append(try parseString())
            } else {
                var end = pos
                while end < chars.count && InvariantParser.isPathCharacter(chars[end]) { end += 1 }
                let word = String(chars[pos..<end])
                guard !word.isEmpty else { throw fail("expected a path segment, found \(describeHere())") }
                segments.append(word.sameCodePoints("*") ? nil : word)
                pos = end
            }
            if !atEnd && chars[pos] == "/" { pos += 1 } else { break }
        }
        guard segments.count >= 3 else {
            throw fail("a path is service/stream/key (found \(segments.count) segment\(segments.count == 1 ? "" : "s"))", at: start)
        }
        let path = InvariantPath(segments: segments)
        if path.hasWildcard && !wildcardAllowed {
            throw fail("a path with * selects many values: use it inside sum, count, min, max, all or any", at: start)
        }
        paths.append(path)
        return path
    }

    mutating func parseString() throws(InvariantSyntaxError) -> String {
        let start = pos
        var end = pos + 1
        var escaped = false
        while end < chars.count {
            if escaped { escaped = false } else if chars[end] == "\\" { escaped = true } else if chars[end] == "\"" { break }
            end += 1
        }
        guard end < chars.count else { throw fail("unterminated string", at: start) }
        let literal = String(chars[start...end])
        pos = end + 1
        guard case .string(let s)? = try? JSONParser.parse(literal) else { throw fail("invalid string", at: start) }
        return s
    }

    mutating func parseNumber() throws(InvariantSyntaxError) -> JSONValue {
        let start = pos
        var end = pos
        if chars[end] == "-" { end += 1 }
        while end < chars.count && (chars[end].isNumber || ".eE+-".contains(chars[end])) {
            if (chars[end] == "+" || chars[end] == "-") && !(chars[end - 1] == "e" || chars[end - 1] == "E") { break }
            end += 1
        }
        let text = String(chars[start..<end])
        guard let v = try? JSONParser.parse(text), v.isNumber else { throw fail("invalid number '\(text)'", at: start) }
        pos = end
        return v
    }
}
