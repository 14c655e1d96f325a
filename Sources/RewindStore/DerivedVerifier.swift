import Foundation
import RewindCore

/// Checks every cached state and keyframe against one full replay, and rebuilds the bad ones
/// (`rewind verify`, and `v` in the terminal UI).
public struct DerivedVerifier {
    public struct Finding: Sendable {
        public var kind: String       // "cached state", "keyframe" or "index cache"
        public var position: Int
        public var damaged: Bool
        public var streams: [StreamKey] = []
        /// Timeline index of the first drifting event: the last event of a differing stream that
        /// the stored state claims to include.
        public var firstEvent: Int?
    }

    public struct Report: Sendable {
        public var findings: [Finding]
        public var rebuilt: Int
        /// Cached states written under other rules (ignored, never trusted).
        public var ignored: Int
        public var events: Int
        public var cachedStates: Int
        public var keyframes: Int
        /// Rows of the index cache (`index_cache`) checked.
        public var indexCached = 0

        public var summary: String {
            "verified \(cachedStates) cached state\(cachedStates == 1 ? "" : "s"), \(indexCached) index-cache state\(indexCached == 1 ? "" : "s") "
                + "and \(keyframes) keyframes against a full replay of \(events) events: "
                + "\(findings.filter { !$0.damaged }.count) drifted, \(findings.filter(\.damaged).count) damaged, \(rebuilt) rebuilt"
                + (ignored > 0 ? "; \(ignored) cached state\(ignored == 1 ? "" : "s") written under other rules ignored" : "")
        }
    }

    public let store: SQLiteStore
    public let derived: SQLiteDerivedData
    public let fold: Fold

    public init(store: SQLiteStore, derived: SQLiteDerivedData, fold: Fold) {
        self.store = store
        self.derived = derived
        self.fold = fold
    }

    public func run() throws -> Report {
        let keyframes = Set(try derived.keyframePositions())
        let cached = Set(try derived.cachedPositions())
        let ignored = try derived.allCachedRows().filter { $0.rules != derived.rules }.count
        let count = try store.eventCount()
        // The index cache's rows: each records the streams changed since an index keyframe, which
        // the index recomputes from the log every run; those streams are what can drift.
        let indexTable = SQLiteIndexCache(store: store, rules: derived.rules)
        let indexRows = try indexTable.loadCachedStates()
        let index = try indexRows.first.map {
            try TimelineIndex(source: ChunkedReader(store: store), fold: fold, keyframeInterval: $0.keyframeInterval)
        }
        let indexCache = index.map { IndexedStateCache(index: $0, budget: .max) }
        let indexed = Dictionary(indexRows.filter { $0.keyframeInterval == index?.keyframeInterval }.map { ($0.position, $0) },
                                 uniquingKeysWith: { a, _ in a })
        let checkpoints = keyframes.union(cached).union(indexed.keys).sorted()

        var findings: [Finding] = []
        var replayed: [Int: State] = [:]
        var state = State()
        var issues: [FoldIssue] = []
        var firstTouch: [StreamKey: Int] = [:]
        var lastTouch: [StreamKey: Int] = [:]
        var next = 0

        func check(_ position: Int) {
            for kind in ["keyframe", "cached state"] where (kind == "keyframe" ? keyframes : cached).contains(position) {
                do {
                    let (stored, _) = kind == "keyframe" ? try derived.keyframe(at: position) : try derived.cachedState(at: position)
                    guard stored != state else { continue }
                    var keys = Set<StreamKey>()
                    for (svc, streams) in stored.services { for s in streams.keys { keys.insert(StreamKey(service: svc, stream: s)) } }
                    for (svc, streams) in state.services { for s in streams.keys { keys.insert(StreamKey(service: svc, stream: s)) } }
                    let differing = keys.filter {
                        stored.document(service: $0.service, stream: $0.stream) != state.document(service: $0.service, stream: $0.stream)
                    }.sorted()
                    let first = differing.compactMap { lastTouch[$0] }.min() ?? differing.compactMap { firstTouch[$0] }.min()
                    findings.append(Finding(kind: kind, position: position, damaged: false, streams: differing, firstEvent: first))
                } catch {
                    findings.append(Finding(kind: kind, position: position, damaged: true))
                }
                replayed[position] = state
            }
            if let row = indexed[position], let index, let indexCache {
                guard let versions = indexCache.decode(row) else {
                    findings.append(Finding(kind: "index cache", position: position, damaged: true))
                    return
                }
                let differing = index.streamsChangedSinceKeyframe(before: position).map(index.streamKey).filter { key in
                    guard let id = index.streamID(service: key.service, stream: key.stream) else { return true }
                    return index.document(version: versions.value(id)) != state.document(service: key.service, stream: key.stream)
                }
                if !differing.isEmpty {
                    findings.append(Finding(kind: "index cache", position: position, damaged: false, streams: differing,
                                            firstEvent: differing.compactMap { lastTouch[$0] }.min()))
                }
            }
        }

        if checkpoints.first == 0 { check(0); next = 1 }
        var position = 0
        try ChunkedReader(store: store).forEachEvent(in: 0..<count) { event in
            fold.apply(event, to: &state, issues: &issues)
            let key = StreamKey(service: event.service, stream: event.stream)
            if firstTouch[key] == nil { firstTouch[key] = position }
            lastTouch[key] = position
            position += 1
            while next < checkpoints.count && checkpoints[next] < position { next += 1 }
            if next < checkpoints.count && checkpoints[next] == position {
                check(position)
                next += 1
            }
        }

        // Rebuild what was bad: cached states from replay, keyframes by rebuilding the derived data.
        var rebuilt = 0
        for f in findings where f.kind == "cached state" {
            try derived.storeCachedState(replayed[f.position]!, at: f.position)
            rebuilt += 1
        }
        for f in findings where f.kind == "index cache" {
            if let index, let indexCache {
                try indexTable.saveCachedState(indexCache.encode(index.diff(to: f.position).versions, at: f.position))
                rebuilt += 1
            }
        }
        if findings.contains(where: { $0.kind == "keyframe" }) {
            _ = try store.ensureDerived(fold: fold, forceReason: "verify found a bad keyframe")
            rebuilt += findings.filter { $0.kind == "keyframe" }.count
        }
        var report = Report(findings: findings, rebuilt: rebuilt, ignored: ignored, events: count,
                            cachedStates: cached.count, keyframes: keyframes.count)
        report.indexCached = indexed.count
        return report
    }
}
