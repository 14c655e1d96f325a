import Foundation

/// Where a strategy reads events from: the timeline, in order (SPEC §2).
/// Positions are 0-based indices into the timeline.
public protocol EventSource: Sendable {
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
    /// Like `forEachEvent(in:_:)`, for only the events whose stream falls in `partition` of
    /// `partitions` (see `StreamPartition`). Safe to call for different partitions at once.
    @discardableResult
    func forEachEvent(in range: Range<Int>, partition: Int, of partitions: Int, _ body: (Event) throws -> Void) throws -> Int
}

/// Splits streams into disjoint partitions. Each event changes only its own stream's
/// document (SPEC §3), so partitions can be folded independently and their states joined.
public enum StreamPartition {
    public static func of(service: UnsafeBufferPointer<UInt8>, stream: UnsafeBufferPointer<UInt8>, count: Int) -> Int {
        guard count > 1 else { return 0 }
        var h = ContentHash()
        h.update(service)
        h.update(stream)
        return Int(h.digest % UInt64(count))
    }

    public static func of(service: String, stream: String, count: Int) -> Int {
        var service = service, stream = stream
        return service.withUTF8 { s in stream.withUTF8 { t in of(service: s, stream: t, count: count) } }
    }
}

extension EventSource {
    @discardableResult
    public func forEachEvent(in range: Range<Int>, partition: Int, of partitions: Int, _ body: (Event) throws -> Void) throws -> Int {
        try forEachEvent(in: range) { event in
            if StreamPartition.of(service: event.service, stream: event.stream, count: partitions) == partition {
                try body(event)
            }
        }
    }
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
    /// Irreversible events crossed backwards (the undo strategy reports them): the state is
    /// rewound, but their effect outside the store stays.
    public var irreversibleCrossed: [StreamTransition]

    public init(state: State, position: Int, applied: Int, bytesRead: Int, issues: [FoldIssue] = [],
                irreversibleCrossed: [StreamTransition] = []) {
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
public struct ReplayStrategy: HydrationStrategy, Sendable {
    public let name = "replay"
    public var source: any EventSource
    public var fold: Fold

    public init(source: any EventSource, fold: Fold) {
        self.source = source
        self.fold = fold
    }

    /// Below this many events, one thread folds everything.
    public static let parallelThreshold = 20_000

    public func hydrate(to position: Int) throws -> Hydration {
        try hydrate(to: position, partitions: position < ReplayStrategy.parallelThreshold ? 1 : min(4, ProcessInfo.processInfo.activeProcessorCount))
    }

    /// Folds `partitions` disjoint sets of streams concurrently, then joins their states.
    func hydrate(to position: Int, partitions: Int) throws -> Hydration {
        let results = PartitionResults(count: partitions)
        DispatchQueue.concurrentPerform(iterations: partitions) { p in
            var state = State()
            var issues: [FoldIssue] = []
            var applied = 0
            do {
                let bytes = try source.forEachEvent(in: 0..<position, partition: p, of: partitions) { event in
                    fold.apply(event, to: &state, issues: &issues)
                    applied += 1
                }
                results.set(p, .success(Hydration(state: state, position: position, applied: applied, bytesRead: bytes, issues: issues)))
            } catch {
                results.set(p, .failure(error))
            }
        }
        var joined = Hydration(state: State(), position: position, applied: 0, bytesRead: 0)
        for result in results.all {
            let part = try result.get()
            for (service, streams) in part.state.services {
                joined.state.services[service, default: [:]].merge(streams) { a, _ in a }
            }
            joined.applied += part.applied
            joined.bytesRead = max(joined.bytesRead, part.bytesRead)
            joined.issues += part.issues
        }
        if partitions > 1 { joined.issues.sort { $0.line < $1.line } }
        return joined
    }
}

/// One result slot per partition, filled from concurrent workers.
final class PartitionResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Hydration, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<Hydration, any Error>) { lock.withLock { slots[i] = r } }
    var all: [Result<Hydration, any Error>] { lock.withLock { slots.map { $0! } } }
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
