/// Where a strategy reads events from: the timeline, in order (SPEC §2).
/// Positions are 0-based indices into the timeline.
public protocol EventSource {
    /// Number of events in the timeline.
    func eventCount() throws -> Int
    /// `position(T)`: how many events have `ts <= T`.
    func position(at time: Timestamp) throws -> Int
    /// Calls `body` with the events at positions `range`, in timeline order.
    /// Returns the number of bytes read.
    @discardableResult
    func forEachEvent(in range: Range<Int>, _ body: (Event) throws -> Void) throws -> Int
    /// The event at `position`.
    func event(at position: Int) throws -> Event
}

/// The result of reaching a point in time.
public struct Hydration: Sendable {
    public var state: State
    /// Events applied to reach `position`.
    public var position: Int
    /// Events, diffs or days applied.
    public var applied: Int
    /// Bytes read from the store.
    public var bytesRead: Int
    /// Ops the fold skipped on the way.
    public var issues: [FoldIssue]
    /// Irreversible events crossed (the undo strategy reports them).
    public var irreversibleCrossed: [Event]

    public init(state: State, position: Int, applied: Int, bytesRead: Int, issues: [FoldIssue] = [], irreversibleCrossed: [Event] = []) {
        self.state = state
        self.position = position
        self.applied = applied
        self.bytesRead = bytesRead
        self.issues = issues
        self.irreversibleCrossed = irreversibleCrossed
    }
}

/// A way of reaching the state after the first `position` events (SPEC §5). Every strategy
/// must return exactly the state that replay returns, for every position.
public protocol HydrationStrategy {
    /// The name on the command line: replay, diff, undo, squash, cache.
    var name: String { get }
    func hydrate(to position: Int) throws -> Hydration
}

/// From the empty state, applies the timeline up to the position.
public struct ReplayStrategy: HydrationStrategy {
    public let name = "replay"
    public var source: any EventSource
    public var fold: Fold

    public init(source: any EventSource, fold: Fold) {
        self.source = source
        self.fold = fold
    }

    public func hydrate(to position: Int) throws -> Hydration {
        var state = State()
        var issues: [FoldIssue] = []
        var applied = 0
        let bytes = try source.forEachEvent(in: 0..<position) { event in
            fold.apply(event, to: &state, issues: &issues)
            applied += 1
        }
        return Hydration(state: state, position: position, applied: applied, bytesRead: bytes, issues: issues)
    }
}

/// An in-memory timeline: the accepted events ordered by (ts, line). For tests and small logs;
/// stores provide the same protocol over their tables.
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
