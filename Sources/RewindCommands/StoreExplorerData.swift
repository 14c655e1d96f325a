import Foundation
import RewindCore
import RewindExplorer
import RewindStore

/// The explorer's data over a store: stepping applies one stored transition to the current
/// state; longer moves go through the diff strategy (nearest keyframe, then diffs).
final class StoreExplorerData: ExplorerData {
    let logName: String
    let store: SQLiteStore
    private(set) var derived: SQLiteDerivedData
    /// Imports what was appended to the log (nil for a store file: nothing to follow).
    let reimport: (() throws -> Void)?
    private var current = State()
    private var currentPosition = 0
    private var events: [Int: Event] = [:]
    private var densityCache: (buckets: Int, values: [Int])?
    private var markerCache: [TimelineMarker]?
    let hydrator: Hydrator
    var drivingStrategy = "diff"

    init(opened: OpenedLog, hydrator: Hydrator, reimport: (() throws -> Void)?) throws {
        logName = URL(fileURLWithPath: opened.displayName).lastPathComponent
        store = opened.store
        self.hydrator = hydrator
        self.reimport = reimport
        derived = try hydrator.derived()
    }

    /// Imports the log's new tail; when the timeline changed, the derived data is extended (or
    /// rebuilt, when a backwards timestamp moved earlier positions) and the cached views dropped.
    func refresh() throws -> Bool {
        guard let reimport else { return false }
        let before = try store.eventCount()
        try reimport()
        guard try store.eventCount() != before else { return false }
        derived = try hydrator.derivedAfterChange()
        current = State()
        currentPosition = 0
        events.removeAll()
        densityCache = nil
        markerCache = nil
        return true
    }

    func compareStrategies(at position: Int) throws -> [StrategyOutcome] {
        try StrategyComparison.run(try Hydrator.names.map { try hydrator.strategy($0) }, to: position)
    }

    func verifyCache() throws -> String {
        try DerivedVerifier(store: store, derived: try hydrator.derived(), fold: hydrator.fold).run().summary
    }

    func eventCount() throws -> Int { try store.eventCount() }

    func event(at index: Int) throws -> Event {
        if let e = events[index] { return e }
        if events.count > 4096 { events.removeAll() }
        let e = try store.event(at: index)
        events[index] = e
        return e
    }

    func state(at position: Int) throws -> State {
        let distance = abs(position - currentPosition)
        if distance == 0 { return current }
        if distance <= 2000 {
            if position > currentPosition {
                try derived.forEachTransition(in: currentPosition..<position, backward: false) { current.apply($0) }
            } else {
                try derived.forEachTransition(in: position..<currentPosition, backward: true) { current.revert($0) }
            }
        } else {
            current = try hydrator.hydrate(drivingStrategy, to: position).state
        }
        currentPosition = position
        return current
    }

    func transition(at index: Int) throws -> StreamTransition {
        var found: StreamTransition?
        try derived.forEachTransition(in: index..<(index + 1), backward: false) { found = $0 }
        guard let found else { throw DerivedDataDamage("the diff of position \(index)") }
        return found
    }

    func position(at time: Timestamp) throws -> Int { try store.position(at: time) }

    func timestamps(of indices: [Int]) throws -> [Timestamp] { try store.timestamps(at: indices) }

    func search(_ query: EventQuery) throws -> [Int] { try store.search(query) }

    func forEachTransition(in range: Range<Int>, _ body: (StreamTransition) throws -> Void) throws {
        try derived.forEachTransition(in: range, backward: false, body)
    }

    func density(buckets: Int) throws -> [Int] {
        if let c = densityCache, c.buckets == buckets { return c.values }
        let values = try store.density(buckets: buckets)
        densityCache = (buckets, values)
        return values
    }

    func markers() throws -> [TimelineMarker] {
        if let m = markerCache { return m }
        let (backwards, duplicated) = try store.timelineMarkers()
        let m = try derived.irreversibleIndices().map { TimelineMarker(index: $0, kind: .irreversible) }
            + backwards.map { TimelineMarker(index: $0, kind: .backwards) }
            + duplicated.map { TimelineMarker(index: $0, kind: .duplicate) }
        markerCache = m
        return m
    }
}
