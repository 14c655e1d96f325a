/// A search over events: `service:S`, `stream:X` and `type:T` terms match exactly; any other
/// word must appear in the event's payload, meta or id. All terms must match.
public struct EventQuery: Sendable, Equatable {
    public var service: String?
    public var stream: String?
    public var type: String?
    public var words: [String] = []

    public init(_ text: String) {
        for term in text.split(separator: " ", omittingEmptySubsequences: true) {
            if term.hasPrefix("service:") { service = String(term.dropFirst(8)) }
            else if term.hasPrefix("stream:") { stream = String(term.dropFirst(7)) }
            else if term.hasPrefix("type:") { type = String(term.dropFirst(5)) }
            else { words.append(String(term)) }
        }
    }

    public init(service: String? = nil, stream: String? = nil, type: String? = nil, words: [String] = []) {
        self.service = service
        self.stream = stream
        self.type = type
        self.words = words
    }

    public var isEmpty: Bool { service == nil && stream == nil && type == nil && words.isEmpty }

    public func matches(_ e: Event) -> Bool {
        // By code points: never Swift's canonical equivalence.
        if let service, !e.service.sameCodePoints(service) { return false }
        if let stream, !e.stream.sameCodePoints(stream) { return false }
        if let type, !e.type.sameCodePoints(type) { return false }
        guard !words.isEmpty else { return true }
        // A word matches the data, meta or id as written, or the type, service or stream name.
        let texts = [e.data.jsonText, e.metaText ?? "", e.id, e.type, e.service, e.stream]
        return words.allSatisfy { w in texts.contains { $0.containsCodePoints(w) } }
    }
}
