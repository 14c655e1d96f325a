/// One accepted event of the log (SPEC §1).
public struct Event: Sendable, Equatable {
    public var id: String
    public var ts: Timestamp
    /// `ts` as written in the line: a string or an integer (what `$.ts` selects).
    public var tsRaw: JSONValue
    public var service: String
    public var stream: String
    public var type: String
    /// The payload: always an object (`{}` when the line has none).
    public var data: JSONValue
    /// `meta` when the line has it.
    public var meta: JSONValue?
    /// Top-level fields beyond the SPEC's, kept so the event object can be shown as written.
    public var extra: [String: JSONValue]
    /// 1-based line number in the source file.
    public var line: Int

    public init(id: String, ts: Timestamp, tsRaw: JSONValue? = nil, service: String, stream: String, type: String,
                data: JSONValue = .emptyObject, meta: JSONValue? = nil, extra: [String: JSONValue] = [:], line: Int) {
        self.id = id
        self.ts = ts
        self.tsRaw = tsRaw ?? .string(ts.rfc3339)
        self.service = service
        self.stream = stream
        self.type = type
        self.data = data
        self.meta = meta
        self.extra = extra
        self.line = line
    }

    /// `meta.effect == "external"`: the event's effect lies outside the store.
    public var hasExternalEffect: Bool { meta?["effect"] == .string("external") }

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
