import Foundation
import RewindCore
import RewindExplorer

/// A timeline in memory whose streams are numbered in order of first appearance, as an import
/// numbers them: what an index is built from, and verified against.
public struct NumberedMemoryTimeline: NumberedEventSource, Sendable {
    public let timeline: MemoryTimeline
    public let ids: [UInt32]
    public let names: [(service: String, stream: String)]

    public init(_ events: [Event]) {
        timeline = MemoryTimeline(events)
        var known: [StreamKey: UInt32] = [:]
        var names: [(String, String)] = []
        ids = timeline.events.map { e in
            let key = StreamKey(service: e.service, stream: e.stream)
            if let id = known[key] { return id }
            known[key] = UInt32(names.count)
            names.append((e.service, e.stream))
            return UInt32(names.count - 1)
        }
        self.names = names
    }

    public func eventCount() -> Int { timeline.eventCount() }
    public func position(at time: Timestamp) -> Int { timeline.position(at: time) }
    public func event(at position: Int) -> Event { timeline.event(at: position) }
    public func forEachEvent(in range: Range<Int>, _ body: (Event) throws -> Void) rethrows -> Int {
        try timeline.forEachEvent(in: range, body)
    }
    public func forEachNumberedEvent(in range: Range<Int>, _ body: (Event, UInt32) throws -> Void) throws {
        for i in range.clamped(to: 0..<timeline.events.count) { try body(timeline.events[i], ids[i]) }
    }
    public func streamNames(from id: Int) -> [(service: String, stream: String)] { Array(names[min(id, names.count)...]) }
}

/// `ExplorerData` over a log held in memory: its index built into memory, the same engine a
/// store's log gets.
public final class MemoryExplorerData: ExplorerData {
    public let logName: String
    public private(set) var index: TimelineIndex
    public private(set) var source: NumberedMemoryTimeline
    let fold: Fold
    let extraMarkers: [TimelineMarker]
    let layout: IndexLayout
    public let cachedStates = MemoryCachedStates()
    public private(set) var strategies: Strategies
    public var drivingStrategy = Strategies.defaultName
    /// Events appended (`append`) that follow mode has not read yet, and the timeline read.
    private var appended: [Event] = []
    private var built: (source: NumberedMemoryTimeline, index: TimelineIndex, update: TimelineUpdate)?

    public init(logName: String, events: [Event], fold: Fold, layout: IndexLayout = .standard, markers: [TimelineMarker] = []) throws {
        self.logName = logName
        self.fold = fold
        extraMarkers = markers
        self.layout = layout
        (source, index) = try MemoryExplorerData.build(events, fold: fold, layout: layout)
        strategies = MemoryExplorerData.strategies(source: source, index: index, fold: fold, cachedStates: cachedStates)
    }

    static func build(_ events: [Event], fold: Fold, layout: IndexLayout) throws -> (NumberedMemoryTimeline, TimelineIndex) {
        let source = NumberedMemoryTimeline(events)
        let output = MemoryIndexOutput()
        let builder = try IndexBuilder(output: output, fold: fold, identity: IndexIdentity(store: "memory", rules: fold.rules.fingerprint),
                                       layout: layout)
        try builder.add(from: source, to: source.eventCount())
        try builder.finish()
        return (source, TimelineIndex(image: try output.image()))
    }

    static func strategies(source: NumberedMemoryTimeline, index: TimelineIndex, fold: Fold, cachedStates: MemoryCachedStates) -> Strategies {
        let timeline = source.timeline
        let cache = IndexCache(index: index, rules: fold.rules.fingerprint, store: cachedStates) { timeline.events[$0].id }
        return Strategies(index: index, cache: cache, replay: ReplayStrategy(source: timeline, fold: fold))
    }

    /// Appends events to the log, as a writer appends lines: follow mode reads them.
    public func append(_ events: [Event]) { appended += events }

    public func event(at index: Int) -> Event { source.timeline.events[index] }
    public func position(at time: Timestamp) -> Int { source.timeline.position(at: time) }

    public func reach(_ position: Int) throws -> VersionMap {
        try strategies.hydrate(drivingStrategy, to: position).state.view!.versions
    }

    public func density(buckets: Int, in span: Range<Int>) -> [Int] {
        Timeline.density(times: source.timeline.events[span.clamped(to: source.timeline.events.indices)].map(\.ts), buckets: buckets)
    }

    /// Another index of the same events (an index image is read by one thread at a time).
    public func worker() throws -> any ExplorerData {
        let w = try MemoryExplorerData(logName: logName, events: source.timeline.events, fold: fold, layout: layout, markers: extraMarkers)
        w.drivingStrategy = drivingStrategy
        return w
    }

    public func timestamps(of indices: [Int]) -> [Timestamp] { indices.map { source.timeline.events[$0].ts } }

    /// The log with what was appended, indexed anew.
    public func readAppended() throws -> TimelineUpdate? {
        guard !appended.isEmpty else { return nil }
        let (source, index) = try MemoryExplorerData.build(self.source.timeline.events + appended, fold: fold, layout: layout)
        appended = []
        let update = TimelineUpdate(index: index)
        built = (source, index, update)
        return update
    }

    public func take(_ update: TimelineUpdate) {
        guard let built, built.update === update else { return }
        source = built.source
        index = built.index
        strategies = MemoryExplorerData.strategies(source: source, index: index, fold: fold, cachedStates: cachedStates)
        self.built = nil
    }

    public func compareStrategies(at position: Int, control: WorkControl?) throws -> [StrategyRun] {
        try strategies.compare(at: position, control: control)
    }

    public func verifyCache(control: WorkControl?) throws -> String {
        try IndexVerifier(index: index, source: source, fold: fold, cache: strategies.cache).run { done, total in
            control?.report(done: done, total: total)
            try control?.check()
        }.summary
    }

    public func search(_ query: EventQuery, in range: Range<Int>) -> [Int] {
        range.clamped(to: source.timeline.events.indices).filter { query.matches(source.timeline.events[$0]) }
    }

    public func markers() -> [TimelineMarker] { extraMarkers }
}

extension Explorer {
    /// A key and everything it leads to, at once: long work runs on this thread and its result
    /// is fed back before this returns (what tests state exactly).
    public func handle(_ key: Key) throws { try ExplorerDriver(explorer: self, inline: true).handle(key) }

    /// An action and everything it leads to, at once.
    public func perform(_ action: ExplorerAction) throws { try ExplorerDriver(explorer: self, inline: true).send(action) }

    /// Keys typed one after another (`"/", "type:X", Enter` as `type("/type:X\n")`).
    public func type(_ text: String) throws {
        for c in text { try handle(c == "\n" ? .enter : .char(c)) }
    }
}
