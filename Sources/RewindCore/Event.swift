import Foundation

/// One accepted event of the log (SPEC §1).
///
/// `meta`, the `ts` as written and any extra top-level fields are kept as JSON text and
/// parsed when asked for: the default fold never needs them, and replay reads millions.
public struct Event: Sendable {
    public var id: String
    public var ts: Timestamp
    public var service: String
    public var stream: String
    public var type: String
    /// The payload: always an object (`{}` when the line has none).
    public var data: JSONValue
    /// 1-based line number in the source file.
    public var line: Int
    /// `ts` as written in the line (JSON text: a string or an integer).
    public var tsText: String {
        get { writtenTS ?? ts.quotedRFC3339 }
        set { writtenTS = newValue }
    }
    /// `ts` as written, when that was not its own quoted RFC 3339 form (then nil: most events
    /// need no string for it, and a replay of a million events made a million).
    var writtenTS: String?
    /// `meta` as written, when the line has it.
    public var metaText: String?
    /// Top-level fields beyond the SPEC's, as one JSON object's text.
    public var extraText: String?

    public init(id: String, ts: Timestamp, tsRaw: JSONValue? = nil, service: String, stream: String, type: String,
                data: JSONValue = .emptyObject, meta: JSONValue? = nil, extra: [JSONKey: JSONValue] = [:], line: Int) {
        self.init(id: id, ts: ts, tsText: (tsRaw ?? .string(ts.rfc3339)).jsonText, service: service, stream: stream,
                  type: type, data: data, metaText: meta?.jsonText,
                  extraText: extra.isEmpty ? nil : JSONValue.object(extra).jsonText, line: line)
    }

    /// `tsText` nil: the `ts` was written as its own quoted RFC 3339 form.
    public init(id: String, ts: Timestamp, tsText: String?, service: String, stream: String, type: String,
                data: JSONValue, metaText: String?, extraText: String?, line: Int) {
        self.id = id
        self.ts = ts
        self.writtenTS = tsText
        self.service = service
        self.stream = stream
        self.type = type
        self.data = data
        self.metaText = metaText
        self.extraText = extraText
        self.line = line
    }

    /// `ts` as written: a string or an integer (what `$.ts` selects).
    public var tsRaw: JSONValue { (try? JSONParser.parse(tsText)) ?? .string(tsText) }

    /// `meta[name]`, parsing only that member.
    public func metaMember(_ name: StaticString) -> JSONValue? {
        guard var text = metaText else { return nil }
        return text.withUTF8 { JSONParser.member(name, ofObject: $0) }
    }

    /// `meta` when the line has it.
    public var meta: JSONValue? { metaText.flatMap { try? JSONParser.parse($0) } }

    /// Top-level fields beyond the SPEC's.
    public var extra: [JSONKey: JSONValue] {
        guard let extraText, case .object(let o)? = try? JSONParser.parse(extraText) else { return [:] }
        return o
    }

    /// An event that `rewind squash --compact` wrote in place of a day of a stream's events
    /// (`meta.rewind = "squashed"`): its `data` is the stream's whole document at the end of that
    /// day, which the fold sets rather than merges (`meta.deleted = true`: no document).
    /// Whether the event carries its stream's whole document instead of a change to it (its
    /// `data` replaces the document; `meta.deleted: true` removes it): `meta.rewind` is
    /// `"squashed"` (written by `squash --compact`) or `"row-image"` (a converted change-data-
    /// capture event: Debezium's row after the change).
    public var replacesDocument: Bool {
        guard let metaText, Event.mentions(metaText, "rewind") else { return false }
        let marker = metaMember("rewind")
        return marker == .string("squashed") || marker == .string("row-image")
    }

    /// Whether `word` occurs in `text`: `memchr` to each candidate first byte, then a compare;
    /// it rules out most events before their `meta` is parsed (Foundation's `contains` took a
    /// sixth of a replay's time).
    static func mentions(_ text: String, _ word: StaticString) -> Bool {
        var text = text
        return text.withUTF8 { t in
            let n = word.utf8CodeUnitCount
            guard t.count >= n, n > 1, let base = t.baseAddress else { return false }
            // Candidates are found by the word's second byte: the "x" of "external" is rarer in a
            // `meta` than its "e" (callgrind: the first-byte search cost ~1 000 instructions per event).
            let w = word.utf8Start
            let anchor = Int32(w[1])
            var i = 1
            while i <= t.count - n + 1 {
                guard let hit = memchr(base + i, anchor, t.count - n + 1 - i + 1) else { return false }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) - 1
                if memcmp(base + at, w, n) == 0 { return true }
                i = at + 2
            }
            return false
        }
    }

    /// `meta.effect == "external"`: the event's effect lies outside the store.
    public var hasExternalEffect: Bool {
        guard let metaText, Event.mentions(metaText, "external") else { return false }
        return metaMember("effect") == .string("external")
    }

    /// The event as a JSON object, as it was written (key order aside).
    public var jsonObject: JSONValue {
        var o = extra
        o["id"] = .string(id)
        o["ts"] = tsRaw
        o["service"] = .string(service)
        o["stream"] = .string(stream)
        o["type"] = .string(type)
        o["data"] = data
        if let meta { o["meta"] = meta }
        return .object(o)
    }
}

extension Event: Equatable {
    /// Field by field, the `ts` as written included (whether or not it is kept as a string).
    public static func == (a: Event, b: Event) -> Bool {
        a.id.sameCodePoints(b.id) && a.ts == b.ts && a.service.sameCodePoints(b.service) && a.stream.sameCodePoints(b.stream)
            && a.type.sameCodePoints(b.type) && a.data == b.data && a.line == b.line && a.tsText.sameCodePoints(b.tsText)
            && a.metaText.sameCodePoints(b.metaText) && a.extraText.sameCodePoints(b.extraText)
    }
}
