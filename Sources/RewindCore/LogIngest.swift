/// What became of one line of a log.
public enum LineOutcome: Sendable {
    case blank
    /// Accepted; `backwards` when its ts is earlier than an earlier accepted line's.
    case accepted(ParsedEventLine, backwards: Bool)
    /// A later line with an id an accepted line already had: not applied (SPEC §1).
    case duplicate(id: String, firstLine: Int)
    case rejected(reason: String)
}

/// An event id as a dictionary key, compared by code points (ids that are canonically
/// equivalent but spelled differently are different ids) and hashed with `ContentHash` (one
/// word through `Hasher` instead of SipHash over every byte: de-duplication is on the
/// import's hot path).
public struct EventID: Hashable, Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }
    public func hash(into hasher: inout Hasher) { hasher.combine(ContentHash.digest(of: text)) }
    /// What dictionaries call (as `JSONKey`'s): the digest, seeded.
    public func _rawHashValue(seed: Int) -> Int { ContentHash.keyHash(ContentHash.digest(of: text), seed: seed) }
    public static func == (a: EventID, b: EventID) -> Bool { a.text.sameCodePoints(b.text) }
}

/// The accounting of an import: every non-blank line read is accepted, a duplicate or
/// rejected, and the three always add up to the lines read.
public struct LogIngest: Sendable {
    /// id → line of the accepted event that had it first.
    public private(set) var firstLineOfID: [EventID: Int] = [:]
    public private(set) var latest: Timestamp?
    public private(set) var accepted = 0
    public private(set) var duplicates = 0
    public private(set) var rejected = 0
    public private(set) var blank = 0
    public private(set) var backwards = 0

    public init() {}

    /// Resumes an import: the ids already accepted, and the latest timestamp so far.
    public init(ids: [EventID: Int], latest: Timestamp?, accepted: Int, duplicates: Int, rejected: Int, blank: Int, backwards: Int) {
        firstLineOfID = ids
        self.latest = latest
        self.accepted = accepted
        self.duplicates = duplicates
        self.rejected = rejected
        self.blank = blank
        self.backwards = backwards
    }

    public var linesRead: Int { accepted + duplicates + rejected }

    /// Makes room for about `count` more ids.
    public mutating func reserveCapacity(_ count: Int) {
        firstLineOfID.reserveCapacity(firstLineOfID.count + count)
    }

    /// Counts a line that was rejected before it reached `classify` (by a format converter).
    public mutating func countRejected() { rejected += 1 }

    /// Counts a blank line found before `classify`.
    public mutating func countBlank() { blank += 1 }

    public mutating func classify(_ bytes: UnsafeBufferPointer<UInt8>, line: Int) -> LineOutcome {
        switch EventLineParser.parse(bytes) {
        case .blank:
            blank += 1
            return .blank
        case .rejected(let reason):
            rejected += 1
            return .rejected(reason: reason)
        case .event(let parsed):
            let key = EventID(parsed.id)
            if let first = firstLineOfID[key] {
                duplicates += 1
                return .duplicate(id: parsed.id, firstLine: first)
            }
            firstLineOfID[key] = line
            accepted += 1
            var isBackwards = false
            if let latest, parsed.ts < latest {
                isBackwards = true
                backwards += 1
            } else {
                latest = parsed.ts
            }
            return .accepted(parsed, backwards: isBackwards)
        }
    }
}

extension Event {
    /// Builds the event of a parsed line (`bytes` is the line the ranges point into).
    public init(parsed: ParsedEventLine, bytes: UnsafeBufferPointer<UInt8>, line: Int) {
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }
        // Already validated by the line parser.
        let data = parsed.data.flatMap { try? JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[$0])) } ?? .emptyObject
        self.init(id: parsed.id, ts: parsed.ts, tsText: text(parsed.tsRaw), service: parsed.service,
                  stream: parsed.stream, type: parsed.type, data: data, metaText: parsed.meta.map(text),
                  extraText: parsed.extra, line: line)
    }
}
