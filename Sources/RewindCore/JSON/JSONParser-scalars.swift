#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strings (with UTF-8 validation and escapes) and numbers.
extension JSONParser {
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        default: return nil
        }
    }

    /// Reads the four hex digits of a `\u` escape starting at `at`.
    func hex4(at: Int) throws(JSONParseError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw error("truncated \\u escape", at: at) }
        var v: UInt32 = 0
        for i in 0..<4 {
            guard let h = JSONParser.hexValue(bytes[at + i]) else { throw error("invalid \\u escape", at: at + i) }
            v = v << 4 | h
        }
        return v
    }

    /// Moves past one multi-byte UTF-8 sequence starting at `pos`, or throws if it is malformed
    /// (overlong forms, surrogates and code points above U+10FFFF are malformed).
    @inline(__always) mutating func skipUTF8Sequence() throws(JSONParseError) {
        let b0 = bytes[pos]
        let n = bytes.count
        @inline(__always) func cont(_ i: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i < n && bytes[i] >= lo && bytes[i] <= hi
        }
        switch b0 {
        case 0xC2...0xDF:
            if cont(pos + 1) { pos += 2; return }
        case 0xE0:
            if cont(pos + 1, 0xA0, 0xBF) && cont(pos + 2) { pos += 3; return }
        case 0xE1...0xEC, 0xEE...0xEF:
            if cont(pos + 1) && cont(pos + 2) { pos += 3; return }
        case 0xED:
            if cont(pos + 1, 0x80, 0x9F) && cont(pos + 2) { pos += 3; return }
        case 0xF0:
            if cont(pos + 1, 0x90, 0xBF) && cont(pos + 2) && cont(pos + 3) { pos += 4; return }
        case 0xF1...0xF3:
            if cont(pos + 1) && cont(pos + 2) && cont(pos + 3) { pos += 4; return }
        case 0xF4:
            if cont(pos + 1, 0x80, 0x8F) && cont(pos + 2) && cont(pos + 3) { pos += 4; return }
        default: break
        }
        throw error("invalid UTF-8")
    }

    /// Scans a string literal at `pos` (which holds the opening quote). Returns the decoded
    /// string when `build` is true, nil otherwise; validates either way.
    mutating func scanString(build: Bool) throws(JSONParseError) -> String? {
        let open = pos
        pos += 1
        let start = pos
        var hasEscape = false
        let n = bytes.count
        let base = bytes.baseAddress!
        while true {
            // Skip 8 plain bytes at a time: no quote, backslash, control byte or non-ASCII.
            while pos + 8 <= n {
                let w = UInt64(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
                let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
                let quote = w ^ (ones &* 0x22), slash = w ^ (ones &* 0x5C)
                let special = ((quote &- ones) & ~quote) | ((slash &- ones) & ~slash) | ((w &- ones &* 0x20) & ~w) | w
                let flagged = special & high
                if flagged != 0 {
                    // The lowest flagged byte is a real one (a borrow only carries upwards):
                    // go straight to it.
                    pos += flagged.trailingZeroBitCount >> 3
                    break
                }
                pos += 8
            }
            guard pos < n else { throw error("unterminated string", at: open) }
            let b = bytes[pos]
            if b == 0x22 { break }
            if b == 0x5C {
                hasEscape = true
                pos += 1
                guard pos < n else { throw error("unterminated string", at: open) }
                switch bytes[pos] {
                case 0x22, 0x5C, 0x2F, UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 1
                case UInt8(ascii: "u"):
                    let v = try hex4(at: pos + 1)
                    pos += 5
                    if v >= 0xDC00 && v <= 0xDFFF { throw error("lone low surrogate \\u escape", at: pos - 6) }
                    if v >= 0xD800 && v <= 0xDBFF {
                        guard pos + 1 < n, bytes[pos] == 0x5C, bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw error("lone high surrogate \\u escape", at: pos - 6)
                        }
                        let lo = try hex4(at: pos + 2)
                        guard lo >= 0xDC00 && lo <= 0xDFFF else {
                            throw error("high surrogate not followed by a low one", at: pos)
                        }
                        pos += 6
                    }
                default:
                    throw error("invalid escape \\\(describeByte(at: pos))", at: pos - 1)
                }
                continue
            }
            if b < 0x20 { throw error("unescaped control character 0x\(String(b, radix: 16)) in a string") }
            if b < 0x80 { pos += 1; continue }
            try skipUTF8Sequence()
        }
        let end = pos
        pos += 1
        lastStringHadEscape = hasEscape
        guard build else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if !hasEscape { return String(decoding: raw, as: UTF8.self) }
        return JSONParser.unescape(raw)
    }

    /// Decodes the escapes of an already validated string body.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 { v = v << 4 | hexValue(raw[at + k])! }
            return v
        }
        while i < raw.count {
            let b = raw[i]
            guard b == 0x5C else { out.append(b); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex(i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let lo = hex(i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (lo - 0xDC00)
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
            default: out.append(e)  // " \ /
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Scans a number at `pos`. Integers that fit 64 bits become `.int`; others `.double`.
    /// Numbers whose magnitude overflows a Double are rejected (JSON has no infinity).
    mutating func scanNumber(build: Bool) throws(JSONParseError) -> JSONValue? {
        let start = pos
        let n = bytes.count
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < n, JSONParser.isDigit(bytes[pos]) else { throw error("invalid number", at: start) }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
        } else {
            while pos < n && JSONParser.isDigit(bytes[pos]) { pos += 1 }
        }
        var integral = true
        if pos < n && bytes[pos] == UInt8(ascii: ".") {
            integral = false
            pos += 1
            guard pos < n, JSONParser.isDigit(bytes[pos]) else { throw error("invalid number: digit expected after '.'", at: start) }
            while pos < n && JSONParser.isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < n && (bytes[pos] | 0x20) == UInt8(ascii: "e") {
            integral = false
            pos += 1
            if pos < n && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard pos < n, JSONParser.isDigit(bytes[pos]) else { throw error("invalid number: digit expected in exponent", at: start) }
            while pos < n && JSONParser.isDigit(bytes[pos]) { pos += 1 }
        }
        if integral, let i = JSONParser.int64(bytes, start, pos) {
            return build ? .int(i) : nil
        }
        let d = JSONParser.double(bytes, start, pos)
        guard d.isFinite else { throw error("number out of range", at: start) }
        return build ? .double(d) : nil
    }

    /// Exact Int64 of a validated integer literal, or nil on overflow.
    static func int64(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        if end - i <= 18 {
            var v: Int64 = 0
            while i < end { v = v &* 10 &+ Int64(bytes[i] &- 0x30); i += 1 }
            return negative ? -v : v
        }
        var v: Int64 = 0
        while i < end {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let digit = Int64(bytes[i] &- 0x30)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            v = s
            i += 1
        }
        return v
    }

    static func double(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double {
        let len = end - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: len + 1) { tmp in
            for k in 0..<len { tmp[k] = CChar(bitPattern: bytes[start + k]) }
            tmp[len] = 0
            return strtod(tmp.baseAddress!, nil)
        }
    }
}
