#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a text is not JSON, and where: `offset` is the 0-based byte offset of the problem.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }
    public var description: String { "column \(offset + 1): \(message)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Hand-written because the import path must validate ~230 MB/s of JSON Lines and extract a
/// few fields without building trees (see `EventLineParser`); Foundation's decoders build
/// everything and measured about 118 000 events/s here (`rewind bench parse` compares them).
/// It rejects invalid UTF-8, lone surrogate escapes, non-finite numbers and nesting deeper
/// than `maxDepth` — never overflowing the stack, whatever the input.
public struct JSONParser {
    public static let maxDepth = 512

    let bytes: UnsafeBufferPointer<UInt8>
    var pos: Int
    /// Whether the string most recently scanned had escapes (its raw bytes are then not its value).
    var lastStringHadEscape = false
    var depthLimit = JSONParser.maxDepth

    init(_ bytes: UnsafeBufferPointer<UInt8>, pos: Int = 0) {
        self.bytes = bytes
        self.pos = pos
    }

    /// Parses a complete JSON text (one value, optional surrounding whitespace). `depthLimit`
    /// is raised only for text this program wrote itself (a fold can nest a document a few
    /// levels deeper than the event it came from).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, depthLimit: Int = JSONParser.maxDepth) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes)
        p.depthLimit = depthLimit
        p.skipWhitespace()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw p.error("unexpected text after the JSON value") }
        return v
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buf in Result { () throws(JSONParseError) -> JSONValue in try parse(buf) } }
        return try result.get()
    }

    public static func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buf in Result { () throws(JSONParseError) -> JSONValue in try parse(buf) } }
        return try result.get()
    }

    /// Checks that `bytes` is one complete JSON text without building it.
    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        try p.skipValue(depth: 0)
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw p.error("unexpected text after the JSON value") }
    }

    func error(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? pos, message: message)
    }

    @inline(__always) var atEnd: Bool { pos >= bytes.count }

    @inline(__always) mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    func describeByte(at i: Int) -> String {
        guard i < bytes.count else { return "end of line" }
        let b = bytes[i]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    // MARK: values

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard pos < bytes.count else { throw error("expected a value, found end of line") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try scanString(build: true)!)
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try scanNumber(build: true)!
        default: throw error("expected a value, found \(describeByte(at: pos))")
        }
    }

    /// Validates one value and moves past it; builds nothing.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard pos < bytes.count else { throw error("expected a value, found end of line") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): try skipObject(depth: depth + 1)
        case UInt8(ascii: "["): try skipArray(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try scanString(build: false)
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber(build: false)
        default: throw error("expected a value, found \(describeByte(at: pos))")
        }
    }

    mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        guard pos + n <= bytes.count else { throw error("invalid literal") }
        for i in 0..<n where bytes[pos + i] != w[i] { throw error("invalid literal") }
        pos += n
    }

    mutating func checkDepth(_ depth: Int) throws(JSONParseError) {
        if depth > depthLimit { throw error("nesting deeper than \(depthLimit) levels") }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        try checkDepth(depth)
        pos += 1
        var dict: [JSONKey: JSONValue] = [:]
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(dict) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeByte(at: pos))")
            }
            let key = try scanString(build: true)!
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw error("expected ':' after a key, found \(describeByte(at: pos))")
            }
            pos += 1
            skipWhitespace()
            dict[JSONKey(key)] = try parseValue(depth: depth)
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(dict) }
            throw error("expected ',' or '}', found \(describeByte(at: pos))")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        try checkDepth(depth)
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']', found \(describeByte(at: pos))")
        }
    }

    mutating func skipObject(depth: Int) throws(JSONParseError) {
        try checkDepth(depth)
        pos += 1
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeByte(at: pos))")
            }
            _ = try scanString(build: false)
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw error("expected ':' after a key, found \(describeByte(at: pos))")
            }
            pos += 1
            skipWhitespace()
            try skipValue(depth: depth)
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            throw error("expected ',' or '}', found \(describeByte(at: pos))")
        }
    }

    mutating func skipArray(depth: Int) throws(JSONParseError) {
        try checkDepth(depth)
        pos += 1
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
        while true {
            skipWhitespace()
            try skipValue(depth: depth)
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            throw error("expected ',' or ']', found \(describeByte(at: pos))")
        }
    }
}

extension JSONParser {
    /// Walks the members of the object at `pos` (its `{`) and moves past it. For each member it
    /// reads the key and calls `body` at the value, which `body` must read or skip, with the
    /// key's bytes (unescaped when it had escapes) and the key's range as written, quotes
    /// included. The line parser and `member` read objects this way.
    @inline(__always)
    mutating func forEachMember(
        _ body: (inout JSONParser, UnsafeBufferPointer<UInt8>, Range<Int>) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        pos += 1
        skipWhitespace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeByte(at: pos))")
            }
            let keyStart = pos
            _ = try scanString(build: false)
            let written = keyStart..<pos
            let escaped = lastStringHadEscape
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw error("expected ':' after a key, found \(describeByte(at: pos))")
            }
            pos += 1
            skipWhitespace()
            guard pos < bytes.count else { throw error("expected a value, found end of line") }
            let raw = UnsafeBufferPointer(rebasing: bytes[(written.lowerBound + 1)..<(written.upperBound - 1)])
            if escaped {
                let key = Array(JSONParser.unescape(raw).utf8)
                try key.withUnsafeBufferPointer { (k) throws(JSONParseError) in try body(&self, k, written) }
            } else {
                try body(&self, raw, written)
            }
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            throw error("expected ',' or '}', found \(describeByte(at: pos))")
        }
    }

    /// `(try? parse(bytes))?[name]` — the value of the object's top-level member `name` (the
    /// last, if repeated), or nil when there is none or the text is not a JSON object — parsing
    /// only that member's value: the fold asks this of every event's `meta` (parsing a whole
    /// `meta` for one member cost ~5 000 instructions).
    public static func member(_ name: StaticString, ofObject bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        guard !p.atEnd, bytes[p.pos] == UInt8(ascii: "{") else { return nil }
        let wanted = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var found: Range<Int>?
        do throws(JSONParseError) {
            try p.forEachMember { (p, key, _) throws(JSONParseError) in
                let start = p.pos
                try p.skipValue(depth: 1)
                if key.elementsEqual(wanted) { found = start..<p.pos }
            }
            p.skipWhitespace()
            guard p.atEnd, let found else { return nil }
            return try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[found]), depthLimit: JSONParser.maxDepth - 1)
        } catch {
            return nil
        }
    }
}
