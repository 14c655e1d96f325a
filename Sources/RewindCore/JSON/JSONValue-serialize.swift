/// Serialisation of `JSONValue` to compact JSON text with sorted object keys.
extension JSONValue {
    /// Compact JSON with object keys sorted: the canonical text of a value.
    public var jsonText: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the canonical compact JSON text of this value to `out`.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): JSONValue.writeInt(i, to: &out)
        case .double(let d): JSONValue.writeDouble(d, to: &out)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            // Members sorted as pairs: no lookup of each key again.
            for (i, member) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.key.string, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Decimal digits, written into `out` directly (`String(i)` made a string per number).
    static func writeInt(_ v: Int64, to out: inout [UInt8]) {
        if v >= 0 && v < 10 {
            out.append(UInt8(truncatingIfNeeded: 48 + v))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { b in
            var i = b.count
            var m = v.magnitude
            repeat {
                i -= 1
                b[i] = UInt8(truncatingIfNeeded: 48 + m % 10)
                m /= 10
            } while m > 0
            if v < 0 {
                i -= 1
                b[i] = UInt8(ascii: "-")
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[i...]))
        }
    }

    static func writeDouble(_ d: Double, to out: inout [UInt8]) {
        if d.isFinite, d == d.rounded(), d.magnitude < 1e15 {
            // Integral values print without an exponent or a trailing ".0".
            writeInt(Int64(d), to: &out)
        } else if d.isFinite {
            out.append(contentsOf: d.description.utf8)
        } else {
            out.append(contentsOf: "null".utf8)  // unreachable: the parser rejects non-finite numbers
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `s` as a JSON string literal. Control characters, DEL and the C1 range are
    /// escaped, and so are the invisible and direction-changing (format characters, line and
    /// paragraph separators: `Unicode.Scalar.isTerminalUnsafe`), so a string from a log can
    /// never carry a terminal escape sequence or a bidirectional override verbatim.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        // Most keys and values: printable ASCII, nothing to escape — one check, one copy.
        if s.utf8.withContiguousStorageIfAvailable({ b -> Bool in
            guard JSONValue.isPlain(b) else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: b)
            out.append(UInt8(ascii: "\""))
            return true
        }) == true { return }
        var s = s
        out.append(UInt8(ascii: "\""))
        s.withUTF8 { bytes in
            var i = 0
            var runStart = 0
            @inline(__always) func flush(upTo end: Int, into out: inout [UInt8]) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end]))
            }
            func hex(_ unit: UInt16, into out: inout [UInt8]) {
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), hexDigits[Int(unit >> 12)], hexDigits[Int((unit >> 8) & 0xF)],
                                        hexDigits[Int((unit >> 4) & 0xF)], hexDigits[Int(unit & 0xF)]])
            }
            let n = bytes.count
            let base = bytes.baseAddress
            while i < n {
                // Skip 8 plain bytes at a time: none is a quote, backslash, control byte, DEL or
                // non-ASCII (a key or a short value is then one copy). The last few bytes are one
                // word too, padded with "A"s.
                while i < n {
                    let flagged = JSONValue.specialBytes(JSONValue.word(base!, at: i, count: n))
                    if flagged != 0 {
                        i += flagged.trailingZeroBitCount >> 3  // the first byte to look at (see `scanString`)
                        break
                    }
                    i = min(i + 8, n)
                }
                guard i < n else { break }
                let b = bytes[i]
                if b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F {
                    flush(upTo: i, into: &out)
                    switch b {
                    case 0x22: out.append(contentsOf: [0x5C, 0x22])
                    case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                    case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                    case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                    case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                    case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                    case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                    default: hex(UInt16(b), into: &out)
                    }
                    i += 1
                    runStart = i
                } else if b < 0x80 {
                    i += 1
                } else {
                    // A multi-byte scalar (the text is valid UTF-8): decode it, escape it if unsafe.
                    let width = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                    var v = UInt32(b) & (width == 2 ? 0x1F : width == 3 ? 0x0F : 0x07)
                    for k in 1..<width where i + k < bytes.count { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                    if let scalar = Unicode.Scalar(v), scalar.isTerminalUnsafe {
                        flush(upTo: i, into: &out)
                        for unit in String(scalar).utf16 { hex(unit, into: &out) }
                        i += width
                        runStart = i
                    } else {
                        i += width
                    }
                }
            }
            flush(upTo: bytes.count, into: &out)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Whether no byte of `b` needs a look when written in a JSON string (see `specialBytes`).
    @inline(__always) static func isPlain(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return true }
        var i = 0
        while i < b.count {
            if specialBytes(word(base, at: i, count: b.count)) != 0 { return false }
            i += 8
        }
        return true
    }

    /// The 8 bytes at `i` of the `count` at `base` as a little-endian word; past the end, "A"s
    /// (a byte that never needs escaping).
    @inline(__always) static func word(_ base: UnsafePointer<UInt8>, at i: Int, count: Int) -> UInt64 {
        i + 8 <= count ? UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
            : ContentHash.partialWord(base + i, count - i) | 0x4141_4141_4141_4141 << (8 * UInt64(count - i))
    }

    /// The high bit of each byte of `w` that may need escaping in a string — a quote, backslash,
    /// control byte, DEL or non-ASCII — and possibly of bytes above one; the lowest is exact.
    @inline(__always) static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22), slash = w ^ (ones &* 0x5C), del = w ^ (ones &* 0x7F)
        return (((quote &- ones) & ~quote) | ((slash &- ones) & ~slash) | ((del &- ones) & ~del) | ((w &- ones &* 0x20) & ~w) | w) & high
    }

    /// Pretty JSON (two-space indent, sorted keys) for people.
    public func prettyText(indent: Int = 0) -> String {
        var out = ""
        writePretty(to: &out, indent: indent)
        return out
    }

    func writePretty(to out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .array(let a) where !a.isEmpty:
            out += "[\n"
            for (i, v) in a.enumerated() {
                out += pad
                v.writePretty(to: &out, indent: indent + 1)
                out += i == a.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let o) where !o.isEmpty:
            out += "{\n"
            let keys = o.keys.sorted()
            for (i, k) in keys.enumerated() {
                out += pad + JSONValue.string(k.string).jsonText + ": "
                o[k]!.writePretty(to: &out, indent: indent + 1)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        default:
            out += jsonText
        }
    }
}
