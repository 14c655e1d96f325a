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

/// An event source that numbers its streams (ids dense, from 0): what the index is built from.
public protocol NumberedEventSource: EventSource {
    /// Calls `body` with the events at positions `range`, in timeline order, and their stream ids.
    func forEachNumberedEvent(in range: Range<Int>, _ body: (Event, UInt32) throws -> Void) throws
    /// The names of the streams with ids from `id` on, in id order.
    func streamNames(from id: Int) throws -> [(service: String, stream: String)]
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

/// The state replay returns: every document, folded.
public struct Replayed: Sendable {
    public var state: State
    public var applied: Int
    public var bytesRead: Int
    public var issues: [FoldIssue]
}

/// From the empty state, applies the timeline up to the position (the baseline every other
/// strategy must agree with).
public struct ReplayStrategy: Sendable {
    public let name = "replay"
    public var source: any EventSource
    public var fold: Fold

    public init(source: any EventSource, fold: Fold) {
        self.source = source
        self.fold = fold
    }

    /// Below this many events, one thread folds everything.
    public static let parallelThreshold = 20_000

    public func hydrate(to position: Int, control: WorkControl? = nil) throws -> Replayed {
        try hydrate(to: position, partitions: position < ReplayStrategy.parallelThreshold ? 1 : min(4, ProcessInfo.processInfo.activeProcessorCount),
                    control: control)
    }

    /// Folds `partitions` disjoint sets of streams concurrently, then joins their states.
    /// With a `control`, progress is reported and cancellation checked every 8 192 events.
    public func hydrate(to position: Int, partitions: Int, control: WorkControl? = nil) throws -> Replayed {
        let results = PartitionResults(count: partitions)
        DispatchQueue.concurrentPerform(iterations: partitions) { p in
            var state = State()
            var issues: [FoldIssue] = []
            var applied = 0
            do {
                var seen = 0
                let bytes = try source.forEachEvent(in: 0..<position, partition: p, of: partitions) { event in
                    fold.apply(event, to: &state, issues: &issues)
                    applied += 1
                    seen += 1
                    if let control, seen == 8192 {
                        control.advance(by: seen, total: position)
                        seen = 0
                        try control.check()
                    }
                }
                results.set(p, .success(Replayed(state: state, applied: applied, bytesRead: bytes, issues: issues)))
            } catch {
                results.set(p, .failure(error))
            }
        }
        var joined = Replayed(state: State(), applied: 0, bytesRead: 0, issues: [])
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
    private var slots: [Result<Replayed, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<Replayed, any Error>) { lock.withLock { slots[i] = r } }
    var all: [Result<Replayed, any Error>] { lock.withLock { slots.map { $0! } } }
}
