import RewindCore

/// What the go-to prompt accepts, read forgivingly: where the cursor should go.
///
/// - `start`, `end` (also `now`, `latest`): the first event's time, the last event;
/// - `#120`: position 120 (events applied);
/// - `+5m`, `-1h`, `+1h30m`, `-2d`, `+500ms`: a move from the cursor's time;
/// - `09:14`, `09:14:05`, `09:14:05.250`: that time of day on the cursor's (UTC) day;
/// - `2026-01-02`: the start of that day (UTC);
/// - `2026-01-02T12:00`, `2026-01-02 12:00:05`, with or without a zone (UTC when none);
/// - RFC 3339 with any offset, and epoch milliseconds, as `state --at` takes them.
public enum TimeEntry: Equatable, Sendable {
    case start, end
    case position(Int)
    case offset(nanoseconds: Int64)
    case time(Timestamp)

    public static let hint = "try 09:14:05, 2026-01-02, 2026-01-02T12:00Z, +5m, -1h, #120, start or end"

    /// Reads `text`; `day` is the cursor's time (for a time of day).
    public static func parse(_ text: String, cursor: Timestamp?) throws(TimestampError) -> TimeEntry {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch t.lowercased() {
        case "start", "first", "begin": return .start
        case "end", "now", "latest", "last", "head": return .end
        default: break
        }
        guard !t.isEmpty else { throw TimestampError(message: "type a time (\(hint))") }
        if t.hasPrefix("#") {
            guard let p = Int(t.dropFirst()), p >= 0 else { throw TimestampError(message: "\"\(t)\" is not a position (#0, #120, …)") }
            return .position(p)
        }
        let digits = t.drop { $0 == "-" || $0 == "+" }
        if digits.allSatisfy(\.isNumber) && !digits.isEmpty && digits.count < 11 {
            // A bare small number is no time anyone means: a position, a move, or epoch ms?
            if t.hasPrefix("+") || t.hasPrefix("-") {
                throw TimestampError(message: "\"\(t)\" is not a move: a unit expected after \(digits) (ms, s, m, h, d, w), e.g. \(t)m")
            }
            throw TimestampError(message: "\"\(t)\" is ambiguous: #\(digits) is a position, +\(digits)m a move, epoch milliseconds have 13 digits")
        }
        if t.hasPrefix("+") || t.hasPrefix("-"), t.count > 1, !t.dropFirst().allSatisfy(\.isNumber) {
            return .offset(nanoseconds: try duration(t))
        }
        let bytes = Array(t.utf8)
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        // A time of day: H:MM or HH:MM[:SS[.fff]], on the cursor's day.
        let colon = isDigit(0) && bytes.count > 2 && (bytes[1] == UInt8(ascii: ":") || (isDigit(1) && bytes[2] == UInt8(ascii: ":")))
        if colon, !t.contains("-") || t.firstIndex(of: "-")! > t.firstIndex(of: ":")! {
            guard let cursor else { throw TimestampError(message: "the log is empty: no day to put \(t) on") }
            let date = String(cursor.rfc3339.prefix(10))
            return .time(try Timestamp.parse(date + "T" + completed(bytes[1] == UInt8(ascii: ":") ? "0" + t : t)))
        }
        // A date, with or without a time and a zone.
        if bytes.count >= 10, isDigit(0), isDigit(3), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") {
            if bytes.count == 10 { return .time(try Timestamp.parse(t + "T00:00:00Z")) }
            let date = String(t.prefix(10)), rest = String(t.dropFirst(11))
            let separator = t[t.index(t.startIndex, offsetBy: 10)]
            guard separator == "T" || separator == "t" || separator == " " else {
                throw TimestampError(message: "\"\(t)\" is not a time: 'T' or a space expected after the date (\(hint))")
            }
            return .time(try Timestamp.parse(date + "T" + completed(rest)))
        }
        do {
            return .time(try Timestamp.parse(t))
        } catch {
            throw TimestampError(message: "\"\(t)\" is not a time (\(hint))")
        }
    }

    /// A time of day with seconds and a zone: `09:14` → `09:14:00Z`, `09:14:05+02:00` kept.
    static func completed(_ time: String) -> String {
        var clock = time, zone = "Z"
        if let z = time.firstIndex(where: { $0 == "Z" || $0 == "z" || $0 == "+" || $0 == "-" }) {
            clock = String(time[..<z])
            zone = String(time[z...])
        }
        if clock.filter({ $0 == ":" }).count == 1 { clock += ":00" }
        return clock + zone
    }

    /// `+1h30m` → nanoseconds (signed). Units: ms, s, m, h, d, w.
    static func duration(_ text: String) throws(TimestampError) -> Int64 {
        let negative = text.hasPrefix("-")
        var rest = Substring(text.dropFirst())
        var total: Int64 = 0
        let units: [(String, Int64)] = [("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
                                        ("d", 86_400_000_000_000), ("w", 604_800_000_000_000)]
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int64(digits) else {
                throw TimestampError(message: "\"\(text)\" is not a move: a number expected (e.g. +5m, -1h, +1h30m)")
            }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.0 == unitText.lowercased() }) else {
                throw TimestampError(message: "\"\(text)\" is not a move: a unit expected after \(n) (ms, s, m, h, d, w)")
            }
            rest = rest.dropFirst(unitText.count)
            let (product, o1) = n.multipliedReportingOverflow(by: unit.1)
            let (sum, o2) = total.addingReportingOverflow(product)
            guard !o1 && !o2 else { throw TimestampError(message: "\"\(text)\" is too far to move") }
            total = sum
        }
        return negative ? -total : total
    }
}
