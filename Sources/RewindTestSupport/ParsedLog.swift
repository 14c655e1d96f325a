import RewindCore

/// A whole log held in memory: for tests, small logs and generated scenarios.
public struct ParsedLog: Sendable {
    public var events: [Event] = []
    public var duplicates: [(line: Int, id: String, firstLine: Int)] = []
    public var rejected: [(line: Int, reason: String)] = []
    public var backwardsLines: [Int] = []
    public var ingest = LogIngest()

    public init(text: String) {
        var line = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            line += 1
            var bytes = Array(raw.utf8)
            if bytes.last == 0x0D { bytes.removeLast() }
            if line > 1 && bytes.isEmpty && raw.endIndex == text.endIndex { break }
            bytes.withUnsafeBufferPointer { buf in
                switch ingest.classify(buf, line: line) {
                case .blank: break
                case .accepted(let parsed, let backwards):
                    events.append(Event(parsed: parsed, bytes: buf, line: line))
                    if backwards { backwardsLines.append(line) }
                case .duplicate(let id, let first): duplicates.append((line, id, first))
                case .rejected(let reason): rejected.append((line, reason))
                }
            }
        }
    }
}

/// An in-memory timeline: the accepted events ordered by (ts, line).
public struct MemoryTimeline: EventSource, Sendable {
    public private(set) var events: [Event]

    public init(_ events: [Event]) {
        self.events = events.sorted { ($0.ts, $0.line) < ($1.ts, $1.line) }
    }

    public func eventCount() -> Int { events.count }

    public func position(at time: Timestamp) -> Int {
        var lo = 0, hi = events.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if events[mid].ts <= time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func forEachEvent(in range: Range<Int>, _ body: (Event) throws -> Void) rethrows -> Int {
        for i in range.clamped(to: 0..<events.count) { try body(events[i]) }
        return 0
    }

    public func event(at position: Int) -> Event { events[position] }
}

extension ParsedLog {
    public var timeline: MemoryTimeline { MemoryTimeline(events) }
}
