/// `rewind verify`: recomputes the timeline by one full replay of the store's events and checks
/// everything the index and the cache strategy keep against it — every record's checksum, each
/// event's stream, flags, previous version and document, every persisted map (keyframes, day
/// ends, segment ends, the head) and every cached state. A map is checked against the one before
/// it: only the streams whose versions differ between the two, or that events between them
/// changed, are compared, so the cost is the changes, not maps × streams.
public struct IndexVerifier {
    public struct Finding: Sendable, Equatable {
        /// "index record", "event", "document", "keyframe", "cached state".
        public var kind: String
        public var position: Int
        /// Damaged (a checksum or a row's hash does not match) rather than drifted.
        public var damaged: Bool
        public var detail: String = ""
        public var streams: [StreamKey] = []
        /// The first drifting event: the last event of a differing stream that the stored state
        /// claims to include (nil when none is known).
        public var firstEvent: Int?
    }

    public struct Report: Sendable {
        public var findings: [Finding] = []
        public var events = 0
        public var maps = 0
        public var cachedStates = 0
        /// Cached states written under other rules or formats (not trusted, not used).
        public var foreign = 0
        /// Whether the index itself must be rebuilt.
        public var indexBad: Bool { findings.contains { $0.kind != "cached state" } }
        public var badCachedStates: [Int] { findings.filter { $0.kind == "cached state" }.map(\.position) }

        /// One line: what was checked and what was found.
        public var summary: String {
            let drifted = findings.filter { !$0.damaged }.count, damaged = findings.filter(\.damaged).count
            return "verified \(cachedStates) cached state\(cachedStates == 1 ? "" : "s") and \(maps) keyframes against a full replay of "
                + "\(events) events: \(drifted) drifted, \(damaged) damaged"
                + (foreign > 0 ? "; \(foreign) cached state\(foreign == 1 ? "" : "s") written under other rules ignored" : "")
        }
    }

    public let index: TimelineIndex
    public let source: any NumberedEventSource
    public let fold: Fold
    public let cache: IndexCache?
    /// Stop collecting findings after this many (the first ones say what went wrong).
    public var limit = 50

    public init(index: TimelineIndex, source: any NumberedEventSource, fold: Fold, cache: IndexCache?) {
        self.index = index
        self.source = source
        self.fold = fold
        self.cache = cache
    }

    public func run(progress: (Int, Int) throws -> Void = { _, _ in }) throws -> Report {
        var report = Report()
        let image = index.image
        do {
            try image.verifyAllRecords()
        } catch let damage as IndexDamage {
            report.findings.append(Finding(kind: "index record", position: 0, damaged: true, detail: damage.what))
            return report
        }
        let count = try source.eventCount()
        report.events = count
        if count != index.count {
            report.findings.append(Finding(kind: "index record", position: min(count, index.count), damaged: false,
                                           detail: "the index covers \(index.count) events, the store has \(count)"))
            return report
        }
        // Maps to check, by position (several may share one).
        var maps: [(Int, VersionMap)] = image.maps.map { ($0.position, image.map($0)) } + image.days.map { ($0.map.position, image.map($0.map)) }
        maps.sort { $0.0 < $1.0 }
        report.maps = maps.count
        // Cached states, decoded; rows that do not decode are damaged.
        var cached: [(Int, VersionMap)] = []
        if let cache {
            for p in cache.cachedPositions {
                if let v = cache.cached(at: p) { cached.append((p, v)) }
            }
            for p in cache.damaged {
                report.findings.append(Finding(kind: "cached state", position: p, damaged: true, detail: "its hash does not match"))
            }
            report.cachedStates = cached.count + cache.damaged.count
            report.foreign = cache.foreign
        }
        cached.sort { $0.0 < $1.0 }

        var docs: [JSONValue?] = []
        var expected: [UInt32] = []  // each stream's version, as replay has it
        var changedSince: Set<UInt32> = []  // streams events changed since the last map checked
        var issues: [FoldIssue] = []
        var previousMap: (Int, VersionMap) = (0, index.empty)
        var nextMap = 0, nextCached = 0
        var text: [UInt8] = []
        var names: [(service: String, stream: String)] = try source.streamNames(from: 0)
        var position = 0

        func key(_ id: UInt32) -> StreamKey {
            Int(id) < names.count ? StreamKey(service: names[Int(id)].service, stream: names[Int(id)].stream) : StreamKey(service: "?", stream: "#\(id)")
        }
        func note(_ f: Finding) { if report.findings.count < limit { report.findings.append(f) } }

        /// Checks `map` (at `p`) given the last checked map: streams that differ between them
        /// or that events since changed must hold replay's versions.
        func check(_ map: VersionMap, at p: Int, against base: VersionMap, changed: [UInt32], kind: String) {
            var differing = Set<UInt32>()
            var touched = Set(changed)
            map.forEachDifference(from: base) { id, _, _ in touched.insert(id) }
            for id in touched where map.value(id) != (Int(id) < expected.count ? expected[Int(id)] : 0) { differing.insert(id) }
            guard !differing.isEmpty else { return }
            let sorted = differing.sorted()
            note(Finding(kind: kind, position: p, damaged: false, detail: "\(differing.count) stream\(differing.count == 1 ? "" : "s") differ",
                         streams: sorted.prefix(20).map(key),
                         firstEvent: sorted.compactMap { Int($0) < expected.count ? StreamVersion.lastEvent(expected[Int($0)]) : nil }.min()))
        }

        func atPosition(_ p: Int) {
            while nextMap < maps.count && maps[nextMap].0 == p {
                check(maps[nextMap].1, at: p, against: previousMap.1, changed: Array(changedSince), kind: "keyframe")
                previousMap = maps[nextMap]
                nextMap += 1
                changedSince = []
            }
            while nextCached < cached.count && cached[nextCached].0 == p {
                // Against the keyframe before it, with the streams changed since that keyframe.
                let k = p / image.layout.keyframeInterval * image.layout.keyframeInterval
                let base = k == 0 ? index.empty : image.mapAt(k).map(image.map) ?? index.empty
                check(cached[nextCached].1, at: p, against: base, changed: index.streams(changedIn: k..<p), kind: "cached state")
                nextCached += 1
            }
        }

        atPosition(0)
        try source.forEachNumberedEvent(in: 0..<count) { event, id in
            if Int(id) >= names.count { names += try source.streamNames(from: names.count) }
            while docs.count <= Int(id) { docs.append(nil); expected.append(0) }
            var doc = docs[Int(id)]
            docs[Int(id)] = nil
            let change = fold.apply(event, toDocument: &doc, issues: &issues)
            let stored = image.event(position)
            let flags = (doc != nil ? IndexFormat.hasDocument : 0) | (fold.isIrreversible(event) ? IndexFormat.irreversible : 0)
            let ts = index.timestamp(at: position), line = index.line(at: position)
            if stored.stream != id || stored.previous != expected[Int(id)] || stored.flags != flags || ts != event.ts || line != event.line {
                let what = stored.stream != id ? "another stream" : stored.flags != flags ? "other flags"
                    : ts != event.ts ? "another time" : line != event.line ? "another line" : "another previous version"
                note(Finding(kind: "event", position: position, damaged: false, detail: what, streams: [key(id)], firstEvent: position))
            }
            // A whole document is compared as its text; a change (a large document's entry) as
            // the change replay made, the document before it having been checked already.
            text.removeAll(keepingCapacity: true)
            let entry = image.documentEntry(after: position)
            if doc != nil, entry?.first == IndexFormat.deltaEntry {
                text.append(IndexFormat.deltaEntry)
                change.write(to: &text)
            } else {
                doc?.write(to: &text)
            }
            if (entry.map(Array.init) ?? []) != text {
                note(Finding(kind: "document", position: position, damaged: false, detail: "the document after the event differs",
                             streams: [key(id)], firstEvent: position))
            }
            docs[Int(id)] = doc
            expected[Int(id)] = StreamVersion.make(position: position, hasDocument: doc != nil)
            changedSince.insert(id)
            position += 1
            atPosition(position)
            if position % 65_536 == 0 { try progress(position, count) }
        }
        if let damage = image.damage {
            report.findings.append(Finding(kind: "index record", position: 0, damaged: true, detail: damage.what))
        }
        try progress(count, count)
        return report
    }
}
