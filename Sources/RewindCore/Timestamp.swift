/// A point in time, kept to the nanosecond as nanoseconds since 1970-01-01T00:00:00Z.
/// The representable range is 1677-09-21 … 2262-04-11; timestamps outside it are rejected.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    public static let min = Timestamp(nanoseconds: .min)
    public static let max = Timestamp(nanoseconds: .max)

    /// From an integer of epoch milliseconds.
    public init?(epochMilliseconds ms: Int64) {
        let (v, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return nil }
        nanoseconds = v
    }

    public var description: String { rfc3339 }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The UTC day this timestamp falls in, as days since 1970-01-01.
    public var utcDay: Int64 {
        let day: Int64 = 86_400_000_000_000
        // Floor division that cannot overflow at the ends of the range.
        return nanoseconds >= 0 ? nanoseconds / day : -((-(nanoseconds + 1)) / day) - 1
    }

    /// `seconds` later (earlier when negative), held at the ends of the range.
    /// Saturating, as `adding(seconds:)`.
    public func adding(nanoseconds delta: Int64) -> Timestamp {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(delta)
        return overflow ? (delta < 0 ? .min : .max) : Timestamp(nanoseconds: sum)
    }

    public func adding(seconds: Int64) -> Timestamp {
        let (delta, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = nanoseconds.addingReportingOverflow(delta)
        if o1 || o2 { return seconds < 0 ? .min : .max }
        return Timestamp(nanoseconds: sum)
    }

    /// The UTC date of a day number (days since 1970-01-01), `YYYY-MM-DD` — computed from the
    /// day, not from its first instant, which lies before the range for 1677-09-21.
    public static func date(ofDay day: Int64) -> String {
        let (y, m, d) = civilFromDays(day)
        func pad(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: Swift.max(0, w - s.count)) + s }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// Where this time lies from `a` (0) to `b` (1), in `Double`: the distance between two
    /// timestamps can pass `Int64`'s range (1677 to 2262 is 1.8 × 10¹⁹ ns).
    public func fraction(from a: Timestamp, to b: Timestamp) -> Double {
        let span = Double(b.nanoseconds) - Double(a.nanoseconds)
        guard span > 0 else { return 0 }
        return Swift.min(1, Swift.max(0, (Double(nanoseconds) - Double(a.nanoseconds)) / span))
    }

    /// The time at `fraction` (0…1) of the way from `a` to `b`.
    public static func between(_ a: Timestamp, _ b: Timestamp, fraction: Double) -> Timestamp {
        let f = Swift.min(1, Swift.max(0, fraction))
        let v = Double(a.nanoseconds) + (Double(b.nanoseconds) - Double(a.nanoseconds)) * f
        if v <= Double(Int64.min) { return .min }
        if v >= Double(Int64.max) { return .max }
        return Timestamp(nanoseconds: Swift.min(Swift.max(Int64(v), a.nanoseconds), b.nanoseconds))
    }

    /// `rfc3339` as a JSON string (in quotes).
    public var quotedRFC3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        writeQuotedRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3339 in UTC, with the fraction's trailing zeros trimmed (none when whole seconds).
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        writeQuotedRFC3339(to: &out)
        return String(decoding: out[1..<(out.count - 1)], as: UTF8.self)
    }

    /// Appends `"` + `rfc3339` + `"` (the JSON string) without building a `String`: the form a
    /// store keeps implicitly when a line's `ts` was written exactly so.
    public func writeQuotedRFC3339(to out: inout [UInt8]) {
        let perSecond: Int64 = 1_000_000_000
        var secs = nanoseconds / perSecond
        var frac = nanoseconds % perSecond
        if frac < 0 { frac += perSecond; secs -= 1 }
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let secOfDay = secs - days * 86400
        let (y, m, d) = Timestamp.civilFromDays(days)
        // Written into 32 bytes on the stack (the longest form: 1677 … 2262 always have 4-digit
        // years), then appended at once: a byte at a time cost ~1 700 instructions per timestamp,
        // most of what an import spends checking whether a `ts` is written canonically.
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let count = withUnsafeMutableBytes(of: &text) { b -> Int in
            var i = 0
            func put(_ c: UInt8) { b[i] = c; i += 1 }
            func digits(_ v: Int64, _ width: Int) {
                var v = v.magnitude
                var k = i + width
                i = k
                while k > i - width {
                    k -= 1
                    b[k] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(UInt8(ascii: "\""))
            digits(y, 4); put(UInt8(ascii: "-")); digits(m, 2); put(UInt8(ascii: "-")); digits(d, 2)
            put(UInt8(ascii: "T")); digits(secOfDay / 3600, 2); put(UInt8(ascii: ":"))
            digits(secOfDay / 60 % 60, 2); put(UInt8(ascii: ":")); digits(secOfDay % 60, 2)
            if frac != 0 {
                put(UInt8(ascii: "."))
                var width = 9
                while frac % 10 == 0 { frac /= 10; width -= 1 }
                digits(frac, width)
            }
            put(UInt8(ascii: "Z"))
            put(UInt8(ascii: "\""))
            return i
        }
        withUnsafeBytes(of: &text) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }
}

/// Why a timestamp could not be read.
public struct TimestampError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension Timestamp {
    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)`, 0–9 fraction digits,
    /// `T`/`t` (or a space) between date and time, `Z`/`z`. Impossible dates (`2026-02-30`,
    /// hour 24, second 60) are errors.
    public static func parseRFC3339(_ text: String) throws(TimestampError) -> Timestamp {
        var text = text
        let result = text.withUTF8 { buf in Result { () throws(TimestampError) -> Timestamp in try parseRFC3339(buf) } }
        return try result.get()
    }

    public static func parseRFC3339(_ b: UnsafeBufferPointer<UInt8>) throws(TimestampError) -> Timestamp {
        func fail(_ why: String) -> TimestampError {
            TimestampError(message: "\"\(String(decoding: b, as: UTF8.self))\" is not an RFC 3339 timestamp: \(why)")
        }
        var i = 0
        func digits(_ count: Int) throws(TimestampError) -> Int64 {
            guard i + count <= b.count else { throw fail("too short") }
            var v: Int64 = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { throw fail("digit expected at character \(i + k + 1)") }
                v = v * 10 + Int64(c - 0x30)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8, _ what: String) throws(TimestampError) {
            guard i < b.count, b[i] == c else { throw fail("\(what) expected at character \(i + 1)") }
            i += 1
        }
        let year = try digits(4)
        try expect(UInt8(ascii: "-"), "'-'")
        let month = try digits(2)
        try expect(UInt8(ascii: "-"), "'-'")
        let day = try digits(2)
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else {
            throw fail("'T' expected at character \(i + 1)")
        }
        i += 1
        let hour = try digits(2)
        try expect(UInt8(ascii: ":"), "':'")
        let minute = try digits(2)
        try expect(UInt8(ascii: ":"), "':'")
        let second = try digits(2)
        var nanos: Int64 = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                count += 1
                guard count <= 9 else { throw fail("more than 9 fraction digits") }
                nanos = nanos * 10 + Int64(b[i] - 0x30)
                i += 1
            }
            guard count > 0 else { throw fail("fraction digits expected after '.'") }
            for _ in count..<9 { nanos *= 10 }
        }
        guard i < b.count else { throw fail("time zone offset (Z or ±hh:mm) expected") }
        var offsetSeconds: Int64 = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            let oh = try digits(2)
            try expect(UInt8(ascii: ":"), "':'")
            let om = try digits(2)
            guard oh <= 23, om <= 59 else { throw fail("offset out of range") }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        default:
            throw fail("time zone offset (Z or ±hh:mm) expected at character \(i + 1)")
        }
        guard i == b.count else { throw fail("unexpected text at character \(i + 1)") }
        guard month >= 1 && month <= 12 else { throw fail("month \(month) does not exist") }
        guard day >= 1 && day <= daysInMonth(year, month) else {
            throw fail("day \(day) does not exist in \(year)-\(month < 10 ? "0" : "")\(month)")
        }
        guard hour <= 23 else { throw fail("hour \(hour) does not exist") }
        guard minute <= 59 else { throw fail("minute \(minute) does not exist") }
        guard second <= 59 else { throw fail("second \(second) is not supported (leap seconds are not)") }
        let days = daysFromCivil(year, month, day)
        var seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Before 1970 with a fraction, scale the second after and step back: the first second of
        // the range (…43.145224192) is only reachable that way without overflowing.
        var fraction = nanos
        if seconds < 0 && fraction > 0 { seconds += 1; fraction -= 1_000_000_000 }
        let (scaled, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        guard !o1 && !o2 else { throw fail("outside the supported range 1677-09-21 … 2262-04-11") }
        return Timestamp(nanoseconds: total)
    }

    /// What `--at` and `ts` take: RFC 3339 or an integer of epoch milliseconds.
    public static func parse(_ text: String) throws(TimestampError) -> Timestamp {
        let trimmed = text.trimmingASCIIWhitespace
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }),
           let ms = Int64(trimmed) {
            guard let t = Timestamp(epochMilliseconds: ms) else {
                throw TimestampError(message: "\(ms) ms is outside the supported range")
            }
            return t
        }
        return try parseRFC3339(trimmed)
    }
}

extension String {
    var trimmingASCIIWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
