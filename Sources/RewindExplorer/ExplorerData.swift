import RewindCore

/// What the explorer reads: the timeline and the state at any position. The command layer
/// backs it with a store; tests back it with an in-memory timeline.
public protocol ExplorerData: AnyObject {
    var logName: String { get }
    func eventCount() throws -> Int
    /// The event at timeline index `index` (0-based).
    func event(at index: Int) throws -> Event
    /// The state after the first `position` events.
    func state(at position: Int) throws -> State
    /// The stream documents before and after the event at `index`.
    func transition(at index: Int) throws -> StreamTransition
    func position(at time: Timestamp) throws -> Int
    /// Events per bucket, `buckets` buckets over the timeline's time span.
    func density(buckets: Int) throws -> [Int]
    /// Marked timeline indices: irreversible events, backwards timestamps, duplicate deliveries.
    func markers() throws -> [TimelineMarker]
    /// The transitions at `range`, in order.
    func forEachTransition(in range: Range<Int>, _ body: (StreamTransition) throws -> Void) throws
    /// Timeline indices of the events a query matches, ascending.
    func search(_ query: EventQuery) throws -> [Int]
    /// Every hydration strategy at `position` (replay first), with cost and agreement.
    func compareStrategies(at position: Int) throws -> [StrategyOutcome]
    /// Checks the cached states (and keyframes) against a full replay; a one-line summary.
    func verifyCache() throws -> String
    /// The strategy that reaches a position on a jump.
    var drivingStrategy: String { get set }
    /// Reads what was appended to the log since; returns whether the timeline changed.
    func refresh() throws -> Bool
    /// The timestamps of the events at `indices`, in the same order, read in one go.
    func timestamps(of indices: [Int]) throws -> [Timestamp]
}

public struct TimelineMarker: Sendable, Equatable {
    public enum Kind: Sendable { case irreversible, backwards, duplicate }
    public var index: Int
    public var kind: Kind
    public init(index: Int, kind: Kind) {
        self.index = index
        self.kind = kind
    }
}

/// `ExplorerData` over an in-memory timeline, for tests and small logs.
public final class MemoryExplorerData: ExplorerData {
    public let logName: String
    let timeline: MemoryTimeline
    let fold: Fold
    var transitions: [StreamTransition] = []
    var states: [State] = [State()]
    let extraMarkers: [TimelineMarker]
    let derived: MemoryDerivedData
    public var drivingStrategy = "diff"

    public init(logName: String, events: [Event], fold: Fold, markers: [TimelineMarker] = []) {
        self.logName = logName
        timeline = MemoryTimeline(events)
        self.fold = fold
        extraMarkers = markers
        derived = try! MemoryDerivedData(source: MemoryTimeline(events), fold: fold)
        var state = State()
        var issues: [FoldIssue] = []
        for (i, e) in timeline.events.enumerated() {
            let before = state.document(service: e.service, stream: e.stream)
            fold.apply(e, to: &state, issues: &issues)
            transitions.append(StreamTransition(position: i, service: e.service, stream: e.stream, before: before,
                                                after: state.document(service: e.service, stream: e.stream),
                                                irreversible: fold.isIrreversible(e), eventID: e.id, line: e.line, type: e.type))
            states.append(state)
        }
    }

    public func eventCount() -> Int { timeline.events.count }
    public func event(at index: Int) -> Event { timeline.events[index] }
    public func state(at position: Int) -> State { states[max(0, min(position, states.count - 1))] }
    public func transition(at index: Int) -> StreamTransition { transitions[index] }
    public func position(at time: Timestamp) -> Int { timeline.position(at: time) }

    public func density(buckets: Int) -> [Int] {
        Timeline.density(times: timeline.events.map(\.ts), buckets: buckets)
    }

    public func forEachTransition(in range: Range<Int>, _ body: (StreamTransition) throws -> Void) rethrows {
        for i in range { try body(transitions[i]) }
    }

    public func timestamps(of indices: [Int]) -> [Timestamp] { indices.map { timeline.events[$0].ts } }

    /// An in-memory timeline does not grow.
    public func refresh() -> Bool { false }

    public func compareStrategies(at position: Int) throws -> [StrategyOutcome] {
        try StrategyComparison.run([
            ReplayStrategy(source: timeline, fold: fold), DiffStrategy(derived: derived), UndoStrategy(derived: derived),
            SquashStrategy(derived: derived), CacheStrategy(derived: derived, source: timeline, fold: fold),
        ], to: position)
    }

    public func verifyCache() throws -> String {
        var drifted = 0
        for p in derived.cachedPositions() where try derived.cachedState(at: p).0 != states[p] { drifted += 1 }
        return "verified \(derived.cachedPositions().count) cached states against replay: \(drifted) drifted"
    }

    public func search(_ query: EventQuery) -> [Int] {
        timeline.events.indices.filter { query.matches(timeline.events[$0]) }
    }

    public func markers() -> [TimelineMarker] {
        transitions.filter(\.irreversible).map { TimelineMarker(index: $0.position, kind: .irreversible) } + extraMarkers
    }
}

public enum Timeline {
    /// How many of `times` (ascending) fall in each of `buckets` equal slices of their span.
    public static func density(times: [Timestamp], buckets: Int) -> [Int] {
        guard buckets > 0 else { return [] }
        var out = Array(repeating: 0, count: buckets)
        guard let first = times.first, let last = times.last else { return out }
        let span = max(1, Double(last.nanoseconds - first.nanoseconds))
        for t in times {
            let b = Int(Double(t.nanoseconds - first.nanoseconds) / span * Double(buckets - 1) + 0.5)
            out[min(buckets - 1, max(0, b))] += 1
        }
        return out
    }
}
