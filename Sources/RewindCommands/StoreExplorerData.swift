import Foundation
import RewindCore
import RewindExplorer
import RewindStore

/// The explorer's data over an opened log: the timeline index for states, documents and
/// streams; the store for events, density, markers and search.
final class StoreExplorerData: ExplorerData {
    let logName: String
    /// The log as the command opened it (nil for a worker, which never follows the log).
    private let opened: OpenedLog?
    private(set) var index: TimelineIndex
    let store: any EventStore
    let fold: Fold
    let rulesFingerprint: String
    private let indexPath: String
    private var events: [Int: Event] = [:]
    /// Densities per (buckets, span): zooming back out finds the whole log's at once.
    private var densityCache: [[Int]: [Int]] = [:]
    private var markerCache: [TimelineMarker]?
    private(set) var strategies: Strategies
    var drivingStrategy = Strategies.defaultName

    init(opened: OpenedLog) {
        // A file by its name; a server by its URL without the password.
        logName = PostgresURL.isPostgres(opened.displayName) ? opened.store.location : URL(fileURLWithPath: opened.displayName).lastPathComponent
        self.opened = opened
        index = opened.index
        store = opened.store
        fold = opened.fold
        rulesFingerprint = opened.rules.fingerprint
        indexPath = opened.maintenance.path
        strategies = opened.strategies()
    }

    /// A second opening of the same store and index, for a thread of its own.
    private init(workerOf main: StoreExplorerData) throws {
        logName = main.logName
        opened = nil
        store = try main.store.reopened()
        guard let image = try IndexFile.open(main.indexPath) else { throw IndexDamage("the index \(main.indexPath) is gone") }
        index = TimelineIndex(image: image)
        fold = main.fold
        rulesFingerprint = main.rulesFingerprint
        indexPath = main.indexPath
        let store = self.store
        let cache = OpenedLog.cache(index: index, store: store, rules: rulesFingerprint)
        strategies = Strategies(index: index, cache: cache, replay: ReplayStrategy(source: store, fold: fold))
        drivingStrategy = main.drivingStrategy
    }

    func worker() throws -> any ExplorerData { try StoreExplorerData(workerOf: self) }

    /// Imports the log's new tail and extends the index (when no other process holds the store),
    /// or finds an index another process extended. Runs on the follow thread: it touches only the
    /// opened log (its importer, lock and index file) and the store's serialised connection.
    func readAppended() throws -> TimelineUpdate? {
        guard let opened else { return nil }
        let followed = try opened.follow()
        guard followed.changed || followed.rejected > 0 else { return nil }
        let quarantine = opened.sourcePath.map { URL(fileURLWithPath: LogOpener.quarantinePath(forLog: $0)).lastPathComponent }
        return TimelineUpdate(index: opened.index, rejected: followed.rejected, quarantine: quarantine)
    }

    /// The grown timeline in use from now on; the cached views are dropped.
    func take(_ update: TimelineUpdate) {
        guard let opened else { return }
        index = update.index
        strategies = opened.strategies()
        events.removeAll()
        densityCache = [:]
        markerCache = nil
    }

    func reach(_ position: Int) throws -> VersionMap {
        guard let view = try strategies.hydrate(drivingStrategy, to: position).state.view else {
            throw IndexDamage("no state")
        }
        return view.versions
    }

    func compareStrategies(at position: Int, control: WorkControl?) throws -> [StrategyRun] {
        try strategies.compare(at: position, control: control)
    }

    func verifyCache(control: WorkControl?) throws -> String {
        let cache = OpenedLog.cache(index: index, store: store, rules: rulesFingerprint, budget: .max)
        let report = try IndexVerifier(index: index, source: store, fold: fold, cache: cache).run { done, total in
            control?.report(done: done, total: total)
            try control?.check()
        }
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

    func search(_ query: EventQuery, in range: Range<Int>) throws -> [Int] {
        try store.search(query, in: range.clamped(to: 0..<index.count), limit: 1_000_000)
    }

    func density(buckets: Int, in span: Range<Int>) throws -> [Int] {
        let key = [buckets, span.lowerBound, span.upperBound]
        if let values = densityCache[key] { return values }
        let values = index.density(buckets: buckets, in: span)
        try index.image.check()
        if densityCache.count >= 16 { densityCache.removeAll() }
        densityCache[key] = values
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
