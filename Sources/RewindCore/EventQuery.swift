/// A search over events. `service:S`, `stream:X` and `type:T` match when the name contains the
/// text (a prefix or any part of it); any other word must appear in the event's payload, meta or
/// id as written, or in its type, service or stream name. All terms must match.
///
/// Case: smart, as vim's and lazygit's — a query typed all in lower case ignores ASCII case; one
/// with an upper-case letter matches exactly. Letters beyond ASCII always match exactly (by code
/// points: never Swift's canonical equivalence).
public struct EventQuery: Sendable, Equatable {
    public var service: String?
    public var stream: String?
    public var type: String?
    public var words: [String] = []
    /// Terms match with ASCII case ignored (their letters are then all lower case).
    public var ignoresCase = false

    /// Parses the search prompt's text (smart case).
    public init(_ text: String) {
        for term in text.split(separator: " ", omittingEmptySubsequences: true) {
            if term.hasPrefix("service:") { service = String(term.dropFirst(8)) }
            else if term.hasPrefix("stream:") { stream = String(term.dropFirst(7)) }
            else if term.hasPrefix("type:") { type = String(term.dropFirst(5)) }
            else { words.append(String(term)) }
        }
        ignoresCase = !text.unicodeScalars.contains { $0.isASCII && $0.properties.isUppercase }
    }

    /// An exact query (by code points), as the explorer's views look events up by id.
    public init(service: String? = nil, stream: String? = nil, type: String? = nil, words: [String] = []) {
        self.service = service
        self.stream = stream
        self.type = type
        self.words = words
    }

    public var isEmpty: Bool { service == nil && stream == nil && type == nil && words.isEmpty }

    /// `text` contains `term` (ASCII case ignored when the query says so).
    public func contains(_ text: String, _ term: String) -> Bool {
        ignoresCase ? text.asciiLowercased.containsCodePoints(term) : text.containsCodePoints(term)
    }

    public func matches(_ e: Event) -> Bool {
        if let service, !contains(e.service, service) { return false }
        if let stream, !contains(e.stream, stream) { return false }
        if let type, !contains(e.type, type) { return false }
        guard !words.isEmpty else { return true }
        let texts = [e.data.jsonText, e.metaText ?? "", e.id, e.type, e.service, e.stream]
        return words.allSatisfy { w in texts.contains { contains($0, w) } }
    }
}

extension String {
    /// ASCII letters lowered, every other byte kept (what SQLite's `lower()` does without ICU).
    public var asciiLowercased: String {
        guard utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return self }
        return String(decoding: utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
