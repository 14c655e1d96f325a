/// The fields of one valid event line, as the importer needs them: strings for the
/// identifying fields and the byte ranges (into the line) of the JSON values kept as text.
public struct ParsedEventLine: Sendable {
    public var id: String
    public var ts: Timestamp
    public var tsRaw: Range<Int>
    public var service: String
    public var stream: String
    public var type: String
    public var data: Range<Int>?
    public var meta: Range<Int>?
    /// Top-level fields beyond the SPEC's, as the JSON text of one object.
    public var extra: String?
}

/// What one line of a log is.
public enum LineVerdict: Sendable {
    case blank
    case event(ParsedEventLine)
    case rejected(reason: String)
}

/// Validates one JSON Lines line completely and extracts the SPEC §1 fields without building
/// the payload: `data` and `meta` are validated and kept as byte ranges of the line.
public enum EventLineParser {
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> LineVerdict {
        var p = JSONParser(line)
        p.skipWhitespace()
        if p.atEnd { return .blank }
        guard line[p.pos] == UInt8(ascii: "{") else {
            // Tell "valid JSON but not an object" apart from "not JSON".
            do throws(JSONParseError) {
                try JSONParser.validate(line)
                let kind = (try? JSONParser.parse(line))?.kindName ?? "value"
                return .rejected(reason: "not a JSON object (the line is a \(kind))")
            } catch {
                return .rejected(reason: "invalid JSON: \(error)")
            }
        }
        do throws(JSONParseError) {
            return try parseObject(&p, line)
        } catch {
            return .rejected(reason: "invalid JSON: \(error)")
        }
    }

    /// The SPEC fields of a line's top level (any other key is an extra field).
    enum Field {
        case id, ts, service, stream, type, data, meta, other

        var name: String {
            switch self {
            case .id: return "id"
            case .ts: return "ts"
            case .service: return "service"
            case .stream: return "stream"
            case .type: return "type"
            case .data: return "data"
            case .meta: return "meta"
            case .other: return ""
            }
        }
    }

    /// The SPEC field a key's bytes (unescaped) name: compared as bytes, without allocating.
    @inline(__always) static func field(_ k: UnsafeBufferPointer<UInt8>) -> Field {
        func equals(_ word: StaticString) -> Bool {
            guard k.count == word.utf8CodeUnitCount else { return false }
            let w = word.utf8Start
            for i in 0..<k.count where k[i] != w[i] { return false }
            return true
        }
        switch k.count {
        case 2: if equals("id") { return .id }; if equals("ts") { return .ts }
        case 4: if equals("type") { return .type }; if equals("data") { return .data }; if equals("meta") { return .meta }
        case 6: if equals("stream") { return .stream }
        case 7: if equals("service") { return .service }
        default: break
        }
        return .other
    }

    static func fieldError(_ name: String, _ expected: String, _ found: UInt8?) -> LineVerdict {
        let kind: String
        switch found {
        case UInt8(ascii: "\""): kind = "a string"
        case UInt8(ascii: "{"): kind = "an object"
        case UInt8(ascii: "["): kind = "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): kind = "a boolean"
        case UInt8(ascii: "n"): kind = "null"
        default: kind = "a number"
        }
        return .rejected(reason: "field \"\(name)\" must be \(expected), found \(kind)")
    }

    static func parseObject(_ p: inout JSONParser, _ line: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> LineVerdict {
        var id: String?, service: String?, stream: String?, type: String?
        var tsRange: Range<Int>?
        var data: Range<Int>?, meta: Range<Int>?
        var extras: [(key: Range<Int>, value: Range<Int>)] = []
        var typeProblem: LineVerdict?

        try p.forEachMember { (p, name, written) throws(JSONParseError) in
            let key = EventLineParser.field(name)
            let first = line[p.pos]
            let valueStart = p.pos
            switch key {
            case .id, .service, .stream, .type:
                if first == UInt8(ascii: "\"") {
                    let s = try p.scanString(build: true)!
                    switch key {
                    case .id: id = s
                    case .service: service = s
                    case .stream: stream = s
                    default: type = s
                    }
                } else {
                    try p.skipValue(depth: 1)
                    typeProblem = typeProblem ?? fieldError(key.name, "a string", first)
                }
            case .ts:
                try p.skipValue(depth: 1)
                tsRange = valueStart..<p.pos
            case .data, .meta:
                try p.skipValue(depth: 1)
                if first == UInt8(ascii: "{") {
                    if key == .data { data = valueStart..<p.pos } else { meta = valueStart..<p.pos }
                } else {
                    typeProblem = typeProblem ?? fieldError(key.name, "an object", first)
                }
            case .other:
                try p.skipValue(depth: 1)
                extras.append((written, valueStart..<p.pos))
            }
        }
        p.skipWhitespace()
        guard p.atEnd else { throw p.error("unexpected text after the JSON object") }

        if let typeProblem { return typeProblem }
        var missing: [String] = []
        if id == nil { missing.append("id") }
        if tsRange == nil { missing.append("ts") }
        if service == nil { missing.append("service") }
        if stream == nil { missing.append("stream") }
        if type == nil { missing.append("type") }
        if !missing.isEmpty {
            let names = missing.map { "\"\($0)\"" }.joined(separator: ", ")
            return .rejected(reason: "missing required field\(missing.count > 1 ? "s" : "") \(names)")
        }
        let tsBytes = UnsafeBufferPointer(rebasing: line[tsRange!])
        let ts: Timestamp
        switch parseTimestampValue(tsBytes) {
        case .success(let t): ts = t
        case .failure(let message): return .rejected(reason: message)
        }
        var extra: String?
        if !extras.isEmpty {
            var text = [UInt8(ascii: "{")]
            for (i, e) in extras.enumerated() {
                if i > 0 { text.append(UInt8(ascii: ",")) }
                text.append(contentsOf: line[e.key])
                text.append(UInt8(ascii: ":"))
                text.append(contentsOf: line[e.value])
            }
            text.append(UInt8(ascii: "}"))
            extra = String(decoding: text, as: UTF8.self)
        }
        return .event(ParsedEventLine(id: id!, ts: ts, tsRaw: tsRange!, service: service!, stream: stream!,
                                      type: type!, data: data, meta: meta, extra: extra))
    }

    enum TimestampResult { case success(Timestamp), failure(String) }

    /// `ts` is an RFC 3339 string or an integer of epoch milliseconds.
    static func parseTimestampValue(_ b: UnsafeBufferPointer<UInt8>) -> TimestampResult {
        let expected = "field \"ts\" must be an RFC 3339 string or an integer of epoch milliseconds"
        guard let first = b.first else { return .failure(expected) }
        if first == UInt8(ascii: "\"") {
            let body = UnsafeBufferPointer(rebasing: b[1..<(b.count - 1)])
            if !body.contains(0x5C) {
                do throws(TimestampError) {
                    return .success(try Timestamp.parseRFC3339(body))
                } catch {
                    return .failure("field \"ts\": \(error.message)")
                }
            }
            guard case .string(let s)? = try? JSONParser.parse(b) else { return .failure(expected) }
            do throws(TimestampError) {
                return .success(try Timestamp.parseRFC3339(s))
            } catch {
                return .failure("field \"ts\": \(error.message)")
            }
        }
        if first == UInt8(ascii: "-") || JSONParser.isDigit(first) {
            guard b.allSatisfy({ JSONParser.isDigit($0) || $0 == UInt8(ascii: "-") }),
                  let ms = JSONParser.int64(b, 0, b.count) else {
                return .failure("field \"ts\" must be an integer of epoch milliseconds, found \(String(decoding: b, as: UTF8.self))")
            }
            guard let t = Timestamp(epochMilliseconds: ms) else {
                return .failure("field \"ts\": \(ms) ms is outside the supported range 1677-09-21 … 2262-04-11")
            }
            return .success(t)
        }
        return fieldError("ts", "an RFC 3339 string or an integer of epoch milliseconds", first).rejectionReason
            .map { .failure($0) } ?? .failure(expected)
    }
}

extension LineVerdict {
    public var rejectionReason: String? {
        if case .rejected(let reason) = self { return reason }
        return nil
    }
}
