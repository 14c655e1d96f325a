/// What one event did to its stream: the document before and after (nil = no document).
/// Forward it sets `after`; backward it sets `before` — the reversible diff of an event.
public struct StreamTransition: Sendable, Equatable {
    public var position: Int
    public var service: String
    public var stream: String
    public var before: JSONValue?
    public var after: JSONValue?
    /// The event's effect lies outside the store: undoing it rewinds the state, not the world.
    public var irreversible: Bool
    public var eventID: String
    public var line: Int
    public var type: String

    public init(position: Int, service: String, stream: String, before: JSONValue?, after: JSONValue?,
                irreversible: Bool, eventID: String, line: Int, type: String) {
        self.position = position
        self.service = service
        self.stream = stream
        self.before = before
        self.after = after
        self.irreversible = irreversible
        self.eventID = eventID
        self.line = line
        self.type = type
    }
}

extension State {
    /// Sets one stream's document (nil removes it, and its service when that was the last).
    public mutating func set(service: String, stream: String, to document: JSONValue?) {
        if let document {
            services[service, default: [:]][stream] = document
        } else if services[service] != nil {
            services[service]!.removeValue(forKey: stream)
            if services[service]!.isEmpty { services.removeValue(forKey: service) }
        }
    }

    public mutating func apply(_ t: StreamTransition) { set(service: t.service, stream: t.stream, to: t.after) }

    public mutating func revert(_ t: StreamTransition) { set(service: t.service, stream: t.stream, to: t.before) }
}

/// A stream, as a key.
public struct StreamKey: Hashable, Sendable, Comparable {
    public var service: String
    public var stream: String
    public init(service: String, stream: String) {
        self.service = service
        self.stream = stream
    }
    public static func < (a: StreamKey, b: StreamKey) -> Bool { (a.service, a.stream) < (b.service, b.stream) }
}

/// One UTC day's composite diff: each stream the day changed, with its document at the end of
/// the day (nil = deleted by then), and the timeline positions the day covers.
public struct SquashedDay: Sendable, Equatable {
    public var day: Int64
    public var first: Int
    public var end: Int
    public var changes: [StreamKey: JSONValue?]
}
