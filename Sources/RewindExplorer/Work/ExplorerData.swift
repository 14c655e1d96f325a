import RewindCore

/// What the explorer reads: the timeline index (states, documents, streams, transitions) and
/// the events themselves. The command layer backs it with a store; tests with a log in memory.
public protocol ExplorerData: AnyObject {
    var logName: String { get }
    /// The timeline index (it changes when the log grows and `refresh` extends it).
    var index: TimelineIndex { get }
    /// The event at timeline index `index` (0-based).
    func event(at index: Int) throws -> Event
    func position(at time: Timestamp) throws -> Int
    /// The state after the first `position` events, as the driving strategy reaches it.
    func reach(_ position: Int) throws -> VersionMap
    /// Events per bucket, `buckets` buckets over the time span of the events in `span`.
    func density(buckets: Int, in span: Range<Int>) throws -> [Int]
    /// Marked timeline indices other than irreversible events (the index has those): backwards
    /// timestamps, duplicate deliveries.
    func markers() throws -> [TimelineMarker]
    /// Timeline indices of the events among `range` a query matches, ascending.
    func search(_ query: EventQuery, in range: Range<Int>) throws -> [Int]
    /// Every hydration strategy at `position` (replay first), with cost and agreement; replay
    /// reports its progress to `control` and stops when it is cancelled.
    func compareStrategies(at position: Int, control: WorkControl?) throws -> [StrategyRun]
    /// Checks the index and the cached states against a full replay; a one-line summary.
    func verifyCache(control: WorkControl?) throws -> String
    /// The same data, opened again for another thread (long work runs on one): its own
    /// connection to the store and its own mapping of the index.
    func worker() throws -> any ExplorerData
    /// The strategy that reaches a position on a jump.
    var drivingStrategy: String { get set }
    /// Reads what was appended to the log since the last time — on the driver's follow thread,
    /// while the timeline in use stays as it is; nil when nothing changed.
    func readAppended() throws -> TimelineUpdate?
    /// Makes an update the timeline in use (on the key loop).
    func take(_ update: TimelineUpdate)
    /// The timestamps of the events at `indices`, in the same order, read in one go.
    func timestamps(of indices: [Int]) throws -> [Timestamp]
}

/// A grown (or rebuilt) timeline, read off the key loop, to be taken on it.
public final class TimelineUpdate: @unchecked Sendable, Equatable {
    public let index: TimelineIndex
    /// Lines the read rejected, and the file they were copied to.
    public let rejected: Int
    public let quarantine: String?
    public init(index: TimelineIndex, rejected: Int = 0, quarantine: String? = nil) {
        self.index = index
        self.rejected = rejected
        self.quarantine = quarantine
    }
    public static func == (a: TimelineUpdate, b: TimelineUpdate) -> Bool { a === b }
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

public enum Timeline {
    /// How many of `times` (ascending) fall in each of `buckets` equal slices of their span.
    public static func density(times: [Timestamp], buckets: Int) -> [Int] {
        guard buckets > 0 else { return [] }
        var out = Array(repeating: 0, count: buckets)
        guard let first = times.first, let last = times.last else { return out }
        for t in times {
            let b = Int(t.fraction(from: first, to: last) * Double(buckets - 1) + 0.5)
            out[min(buckets - 1, max(0, b))] += 1
        }
        return out
    }
}

extension ExplorerData {
    /// Every event a query matches.
    public func search(_ query: EventQuery) throws -> [Int] { try search(query, in: 0..<index.count) }
    public func density(buckets: Int) throws -> [Int] { try density(buckets: buckets, in: 0..<index.count) }
}
