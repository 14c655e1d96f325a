extension State {
    /// Sets one stream's document (nil removes it, and its service when that was the last).
    public mutating func set(service: String, stream: String, to document: JSONValue?) {
        let service = JSONKey(service), stream = JSONKey(stream)
        if let document {
            services[service, default: [:]][stream] = document
        } else if services[service] != nil {
            services[service]!.removeValue(forKey: stream)
            if services[service]!.isEmpty { services.removeValue(forKey: service) }
        }
    }
}

/// A stream, as a key. Compared, hashed and ordered by service, then stream, as UTF-8 bytes
/// (code points).
public struct StreamKey: Hashable, Sendable, Comparable {
    public var service: String
    public var stream: String
    public init(service: String, stream: String) {
        self.service = service
        self.stream = stream
    }
    public static func == (a: StreamKey, b: StreamKey) -> Bool {
        a.service.sameCodePoints(b.service) && a.stream.sameCodePoints(b.stream)
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(JSONKey(service))
        hasher.combine(JSONKey(stream))
    }
    public static func < (a: StreamKey, b: StreamKey) -> Bool {
        StreamOrder.less(a.service.utf8, a.stream.utf8, b.service.utf8, b.stream.utf8)
    }
}
