import Foundation
import RewindCore
import RewindExplorer
import RewindStore

/// The explorer's data over an opened log: the timeline index for states, documents and
/// streams; the store for events, density, markers and search.
final class StoreExplorerData: ExplorerData {
    let logName: String
    let opened: OpenedLog
    private var events: [Int: Event] = [:]
    private var densityCache: (buckets: Int, values: [Int])?
    private var markerCache: [TimelineMarker]?
    private(set) var strategies: Strategies
    var drivingStrategy = Strategies.defaultName

    init(opened: OpenedLog) {
        logName = URL(fileURLWithPath: opened.displayName).lastPathComponent
        self.opened = opened
        strategies = opened.strategies()
    }

    var index: TimelineIndex { opened.index }
    var store: SQLiteStore { opened.store }

    /// Imports the log's new tail and extends the index (when no other process holds the store),
    /// or takes an index another process extended; the cached views are dropped.
    func refresh() throws -> Bool {
        guard try opened.follow() else { return false }
        strategies = opened.strategies()
        events.removeAll()
        densityCache = nil
        markerCache = nil
        return true
    }

    func reach(_ position: Int) throws -> VersionMap {
        guard let view = try strategies.hydrate(drivingStrategy, to: position).state.view else {
            throw IndexDamage("no state")
        }
        return view.versions
    }

    func compareStrategies(at position: Int) throws -> [StrategyRun] { try strategies.compare(at: position) }

    func verifyCache() throws -> String {
        let report = try IndexVerifier(index: index, source: store, fold: opened.fold, cache: opened.cache(budget: .max)).run()
        return report.summary + (report.findings.isEmpty ? "" : " (rewind verify rebuilds them)")
    }

    func event(at index: Int) throws -> Event {
        if let e = events[index] { return e }
        if events.count > 4096 { events.removeAll() }
        let e = try store.event(at: index)
        events[index] = e
        return e
    }

    func position(at time: Timestamp) throws -> Int {
        let p = index.position(at: time)
        try index.image.check()
        return p
    }

    func timestamps(of indices: [Int]) throws -> [Timestamp] {
        let t = indices.map { index.timestamp(at: $0) }
        try index.image.check()
        return t
    }

    func search(_ query: EventQuery) throws -> [Int] { try store.search(query).filter { $0 < index.count } }

    func density(buckets: Int) throws -> [Int] {
        if let c = densityCache, c.buckets == buckets { return c.values }
        let values = index.density(buckets: buckets)
        try index.image.check()
        densityCache = (buckets, values)
        return values
    }

    func markers() throws -> [TimelineMarker] {
        if let m = markerCache { return m }
        let (backwards, duplicated) = try store.markedLines()
        let positions = index.positions(ofLines: backwards + duplicated)
        let m = positions[..<backwards.count].compactMap { $0 }.map { TimelineMarker(index: $0, kind: .backwards) }
            + Set(positions[backwards.count...].compactMap { $0 }).sorted().map { TimelineMarker(index: $0, kind: .duplicate) }
        try index.image.check()
        markerCache = m
        return m
    }
}
