/// The one engine: the timeline index of a store, opened from its file (`IndexImage`), and the
/// ways of reaching a point in time through it (SPEC §5, replay aside):
///
/// - diff: the nearest persisted map at or before T, then the diffs of the events after it;
/// - undo: the nearest persisted map after T (or the head), then each event's inverse backwards,
///   listing the irreversible events crossed;
/// - squash: the days before T, each laid over the last as the nodes it changed, then that
///   day's events;
/// - cache: `IndexCache` — the nearest cached state at or before T, then the diffs after it.
///
/// A reached state is a `VersionMap`; documents are read (and inflated) only when asked for,
/// through a `StateView`.
public final class TimelineIndex: @unchecked Sendable {
    public let image: IndexImage
    /// Stream ids beyond the sorted record, in (service, stream) order (sorted on open).
    private lazy var unsortedTail: [UInt32] = sortTail()

    public init(image: IndexImage) { self.image = image }

    public var count: Int { image.count }
    public var streamCount: Int { image.streamCount }
    public var dayCount: Int { image.days.count + (image.directory.openDay == nil ? 0 : 1) }

    /// The state after every event.
    public var head: VersionMap { image.map(image.directory.head) }

    /// An empty state (of this index's image).
    public var empty: VersionMap { VersionMap(image: image) }

    // MARK: events

    /// The stream of the event at `position`.
    public func stream(at position: Int) -> UInt32 { image.event(position).stream }

    public func isIrreversible(_ position: Int) -> Bool { image.event(position).flags & IndexFormat.irreversible != 0 }

    /// The version the event at `position` leaves its stream at.
    @inline(__always) func versionAfter(_ position: Int, flags: UInt8) -> UInt32 {
        StreamVersion.make(position: position, hasDocument: flags & IndexFormat.hasDocument != 0)
    }

    /// Positions of irreversible events in `range`, ascending.
    public func irreversible(in range: Range<Int>) -> [Int] {
        var out: [Int] = []
        image.forEachChunk(in: range) { c, r in
            for i in r where c.flags[i] & IndexFormat.irreversible != 0 { out.append(c.first + i) }
        }
        return out
    }

    /// The timestamp of the event at `position`.
    public func timestamp(at position: Int) -> Timestamp {
        var t: Int64 = 0
        image.forEachChunk(in: clamp(position)..<min(count, clamp(position) + 1)) { c, r in t = c.ts(r.lowerBound) }
        return Timestamp(nanoseconds: t)
    }

    /// The line of the event at `position` in the log.
    public func line(at position: Int) -> Int {
        var l: UInt32 = 0
        image.forEachChunk(in: clamp(position)..<min(count, clamp(position) + 1)) { c, r in l = c.lines[r.lowerBound] }
        return Int(l)
    }

    /// `position(T)`: how many events have `ts <= T` (a binary search over the chunks, then in one).
    public func position(at time: Timestamp) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if timestamp(at: mid) <= time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Events per bucket, `buckets` equal slices of the timeline's time span (each chunk read once).
    public func density(buckets: Int, in span: Range<Int>? = nil) -> [Int] {
        var out = Array(repeating: 0, count: max(0, buckets))
        let span = (span ?? 0..<count).clamped(to: 0..<count)
        guard buckets > 0, !span.isEmpty else { return out }
        // In Double: the span of a timeline can pass Int64's range (1677 to 2262).
        let first = Double(timestamp(at: span.lowerBound).nanoseconds), last = Double(timestamp(at: span.upperBound - 1).nanoseconds)
        let range = max(1, last - first)
        image.forEachChunk(in: span) { c, r in
            for i in r {
                let b = Int((Double(c.ts(i)) - first) / range * Double(buckets - 1) + 0.5)
                out[min(buckets - 1, max(0, b))] += 1
            }
        }
        return out
    }

    /// The positions of the events at `lines` of the log, in the same order (nil: no event there).
    /// One pass over the chunks, a bit per line ruling out the lines not asked for.
    public func positions(ofLines lines: [Int]) -> [Int?] {
        guard !lines.isEmpty else { return [] }
        var wanted: [UInt32: [Int]] = [:]
        var bits = [UInt64](repeating: 0, count: (lines.max()! >> 6) + 1)
        for (i, l) in lines.enumerated() where l >= 0 {
            wanted[UInt32(truncatingIfNeeded: l), default: []].append(i)
            bits[l >> 6] |= 1 << UInt64(l & 63)
        }
        var out = [Int?](repeating: nil, count: lines.count)
        image.forEachChunk(in: 0..<count) { c, r in
            for i in r {
                let l = Int(c.lines[i])
                guard l >> 6 < bits.count, bits[l >> 6] & (1 << UInt64(l & 63)) != 0, let slots = wanted[UInt32(l)] else { continue }
                for k in slots { out[k] = c.first + i }
            }
        }
        return out
    }

    /// The scrubber column (of `width`, over the timeline's time span) of each position.
    public func columns(of positions: [Int], width: Int) -> [Int] {
        guard count > 0, width > 1 else { return positions.map { _ in 0 } }
        let first = timestamp(at: 0), last = timestamp(at: count - 1)
        return positions.map { Int(timestamp(at: $0).fraction(from: first, to: last) * Double(width - 1) + 0.5) }
    }

    /// Which columns (of `width`, over the timeline's time span) hold an irreversible event: one
    /// pass over the chunks' flags and times, however many such events there are.
    public func irreversibleColumns(width: Int, in span: Range<Int>? = nil) -> (count: Int, columns: [Int]) {
        var marked = [Bool](repeating: false, count: max(0, width))
        let span = (span ?? 0..<count).clamped(to: 0..<count)
        guard !span.isEmpty, width > 0 else { return (0, []) }
        let first = timestamp(at: span.lowerBound), last = timestamp(at: span.upperBound - 1)
        var n = 0
        image.forEachChunk(in: span) { c, r in
            for i in r where c.flags[i] & IndexFormat.irreversible != 0 {
                n += 1
                marked[min(width - 1, max(0, Int(Timestamp(nanoseconds: c.ts(i)).fraction(from: first, to: last) * Double(width - 1) + 0.5)))] = true
            }
        }
        return (n, marked.indices.filter { marked[$0] })
    }

    /// The next event of `stream` at or after `position` (nil: none).
    public func nextEvent(of stream: UInt32, from position: Int) -> Int? {
        var found: Int?
        var p = max(0, position)
        while p < count && found == nil {
            let end = min(count, p + 65_536)
            image.forEachChunk(in: p..<end) { c, r in
                guard found == nil else { return }
                for i in r where c.streams[i] == stream { found = c.first + i; return }
            }
            p = end
        }
        return found
    }

    /// The previous event of `stream` before `position` (nil: none).
    public func previousEvent(of stream: UInt32, before position: Int) -> Int? {
        let p = min(position, count)
        guard p > 0 else { return nil }
        // The keyframe before p knows the stream's last event up to it; the events after it are scanned.
        let (start, map) = mapAtOrBefore(p)
        var found: Int?
        image.forEachChunk(in: start..<p) { c, r in
            for i in r where c.streams[i] == stream { found = c.first + i }
        }
        return found ?? StreamVersion.lastEvent(map.value(stream))
    }

    // MARK: reaching T

    /// The persisted map nearest at or before `position`, and its position.
    func mapAtOrBefore(_ position: Int) -> (Int, VersionMap) {
        let i = image.mapPositions.lowerBound(position + 1) - 1
        guard i >= 0 else { return (0, empty) }
        return (image.maps[i].position, image.map(image.maps[i]))
    }

    /// The persisted map nearest at or after `position` (the head when none is before it).
    func mapAtOrAfter(_ position: Int) -> (Int, VersionMap) {
        let i = image.mapPositions.lowerBound(position)
        guard i < image.maps.count else { return (count, head) }
        return (image.maps[i].position, image.map(image.maps[i]))
    }

    /// Applies the diffs of the events at `range` as one batch: forward, a stream ends at the
    /// version its last event left; backward (undo), at the version before its first. The batch
    /// is sorted by stream, so the map is walked once in key order.
    public func apply(_ range: Range<Int>, backward: Bool, to versions: inout VersionMap) {
        guard !range.isEmpty else { return }
        if range.count < 16 {
            var steps: [(UInt32, UInt32)] = []
            image.forEachChunk(in: range) { c, r in
                for i in r { steps.append((c.streams[i], backward ? c.previous[i] : versionAfter(c.first + i, flags: c.flags[i]))) }
            }
            if backward { steps.reverse() }
            for (k, v) in steps { versions.set(k, v) }
            return
        }
        // (stream, offset in the range) packed in one word: sorting groups each stream's events
        // in timeline order.
        var packed = [UInt64](repeating: 0, count: range.count)
        var values = [UInt32](repeating: 0, count: range.count)
        image.forEachChunk(in: range) { c, r in
            for i in r {
                let offset = c.first + i - range.lowerBound
                packed[offset] = UInt64(c.streams[i]) << 32 | UInt64(offset)
                values[offset] = backward ? c.previous[i] : versionAfter(c.first + i, flags: c.flags[i])
            }
        }
        TimelineIndex.sortByStream(&packed, streams: streamCount)
        var keys: [UInt32] = [], out: [UInt32] = []
        keys.reserveCapacity(packed.count)
        out.reserveCapacity(packed.count)
        var j = 0
        while j < packed.count {
            let stream = UInt32(packed[j] >> 32)
            var k = j + 1
            while k < packed.count && UInt32(packed[k] >> 32) == stream { k += 1 }
            keys.append(stream)
            out.append(values[Int((backward ? packed[j] : packed[k - 1]) & 0xFFFF_FFFF)])
            j = k
        }
        keys.withUnsafeBufferPointer { k in out.withUnsafeBufferPointer { v in versions.set(sortedKeys: k, values: v) } }
    }

    /// diff: the nearest persisted map at or before `position`, then the diffs after it.
    public func diff(to position: Int) -> Reach {
        let position = clamp(position)
        let (start, map) = mapAtOrBefore(position)
        var versions = map
        apply(start..<position, backward: false, to: &versions)
        return Reach(position: position, versions: versions, applied: position - start, bytesRead: touched(position - start, versions))
    }

    /// undo: from the nearest persisted map after `position` (or the newest state), each event's
    /// inverse walking backwards; lists the irreversible events crossed, newest first.
    public func undo(to position: Int) -> Reach {
        let position = clamp(position)
        let (start, map) = mapAtOrAfter(position)
        var versions = map
        apply(position..<start, backward: true, to: &versions)
        var reach = Reach(position: position, versions: versions, applied: start - position, bytesRead: touched(start - position, versions))
        reach.crossed = irreversible(in: position..<start).reversed()
        return reach
    }

    /// squash: the whole UTC days before `position`, each laid over the state before it, then the
    /// events of the day `position` falls in.
    public func squash(to position: Int) -> Reach {
        let position = clamp(position)
        var versions = empty
        var applied = 0, reached = 0
        for day in image.days {
            guard day.end <= position else { break }
            versions = versions.overlaid(with: image.map(day.map), since: day.watermark)
            applied += 1
            reached = day.end
        }
        if position == count, let open = image.directory.openDay, open.first == reached, position > reached {
            // The day still open at the head is whole up to it: the head is its end.
            versions = versions.overlaid(with: head, since: open.watermark)
            applied += 1
            reached = position
        }
        apply(reached..<position, backward: false, to: &versions)
        return Reach(position: position, versions: versions, applied: applied + position - reached,
                     bytesRead: touched(position - reached, versions))
    }

    /// Steps a reached state one event forward (from `position` to `position + 1`) or back.
    public func step(_ versions: inout VersionMap, from position: Int, forward: Bool) {
        let p = forward ? position : position - 1
        guard p >= 0, p < count else { return }
        let e = image.event(p)
        versions.set(e.stream, forward ? versionAfter(p, flags: e.flags) : e.previous)
    }

    func clamp(_ p: Int) -> Int { min(max(p, 0), count) }

    /// Bytes a reach read: 9 per event diff, and the nodes it copied.
    func touched(_ events: Int, _ versions: VersionMap) -> Int { events * IndexFormat.chunkBytesPerEvent + versions.scratchBytes }

    /// Sorts packed (stream << 32 | offset) words by stream, keeping each stream's words in
    /// the order given: a least-significant-digit radix sort, one pass per byte of the largest
    /// stream id (a comparison sort took half a query's time).
    static func sortByStream(_ words: inout [UInt64], streams: Int) {
        var scratch = [UInt64](repeating: 0, count: words.count)
        var shift: UInt64 = 32
        var counts = [Int](repeating: 0, count: 257)
        while shift < 64 && (streams - 1) >> (Int(shift) - 32) > 0 {
            for i in counts.indices { counts[i] = 0 }
            words.withUnsafeBufferPointer { src in
                scratch.withUnsafeMutableBufferPointer { dst in
                    counts.withUnsafeMutableBufferPointer { c in
                        for w in src { c[Int((w >> shift) & 0xFF) + 1] += 1 }
                        for i in 1..<257 { c[i] += c[i - 1] }
                        for w in src {
                            let b = Int((w >> shift) & 0xFF)
                            dst[c[b]] = w
                            c[b] += 1
                        }
                    }
                }
            }
            swap(&words, &scratch)
            shift += 8
        }
    }

    // MARK: documents

    /// The document a version stands for (nil: none).
    public func document(_ version: UInt32) -> JSONValue? {
        guard StreamVersion.hasDocument(version), let p = StreamVersion.lastEvent(version) else { return nil }
        return image.document(after: p)
    }

    /// The canonical text of the document a version stands for.
    public func documentText(_ version: UInt32) -> ArraySlice<UInt8>? {
        guard StreamVersion.hasDocument(version), let p = StreamVersion.lastEvent(version) else { return nil }
        return image.documentText(after: p)
    }

    /// What one event did to its stream: the stream and the documents before and after.
    public func transition(at position: Int) throws -> IndexedTransition {
        let e = image.event(position)
        let t = IndexedTransition(position: position, stream: e.stream, key: try streamKey(e.stream),
                                  before: document(e.previous), after: document(versionAfter(position, flags: e.flags)),
                                  irreversible: e.flags & IndexFormat.irreversible != 0)
        try image.check()
        return t
    }

    /// The transitions at `range`, in order; documents are read only for the streams `wanted`
    /// accepts (others get nil documents).
    public func forEachTransition(in range: Range<Int>, wanted: (UInt32) -> Bool = { _ in true },
                                  _ body: (IndexedTransition) throws -> Void) throws {
        var keys: [UInt32: StreamKey] = [:]
        var failure: (any Error)?
        // Large documents (kept as changes) met in this pass, as trees: the next change of the
        // stream is applied to its tree, not rebuilt from the last whole text (a pass over a
        // stream with a large document would otherwise pay the document on every event).
        var large: [UInt32: (position: Int, doc: JSONValue)] = [:]
        image.forEachChunk(in: range.clamped(to: 0..<count)) { c, r in
            guard failure == nil else { return }
            for i in r {
                let id = c.streams[i], p = c.first + i
                let want = wanted(id)
                do {
                    let key: StreamKey
                    if let k = keys[id] { key = k } else { key = try streamKey(id); if want { keys[id] = key } }
                    var before: JSONValue?, after: JSONValue?
                    if want {
                        let previous = c.previous[i], hasAfter = c.flags[i] & IndexFormat.hasDocument != 0
                        let known = large.removeValue(forKey: id)
                        if let known, StreamVersion.hasDocument(previous), StreamVersion.lastEvent(previous) == known.position {
                            before = known.doc
                        } else {
                            before = document(previous)
                        }
                        let isChange = hasAfter && image.documentEntry(after: p)?.first == IndexFormat.deltaEntry
                        if isChange, let from = known, StreamVersion.lastEvent(previous) == from.position, let change = image.change(after: p) {
                            var doc: JSONValue? = from.doc
                            change.apply(to: &doc)
                            after = doc
                        } else {
                            after = hasAfter ? image.document(after: p) : nil
                        }
                        if isChange, let after, large.count < 4096 { large[id] = (p, after) }
                    }
                    try body(IndexedTransition(position: p, stream: id, key: key, before: before, after: after,
                                               irreversible: c.flags[i] & IndexFormat.irreversible != 0))
                    try image.check()
                } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        try image.check()
    }

    // MARK: streams

    public func streamKey(_ id: UInt32) throws -> StreamKey {
        guard let n = image.nameBytes(id) else {
            try image.check()
            throw IndexDamage("stream \(id) has no name")
        }
        return StreamKey(service: String(decoding: n.service, as: UTF8.self), stream: String(decoding: n.stream, as: UTF8.self))
    }

    /// Appends the stream's name as `service/stream` bytes (no `String` is made: the explorer's
    /// filter reads every name at once). False when the stream has none.
    public func appendName(_ id: UInt32, separator: UInt8, to out: inout [UInt8]) -> Bool {
        guard let n = image.nameBytes(id) else { return false }
        out.append(contentsOf: n.service)
        out.append(separator)
        out.append(contentsOf: n.stream)
        return true
    }

    /// Stream ids in (service, stream) byte order: the sorted record, then the streams added since.
    public var sortedStreams: SortedStreams { SortedStreams(index: self, tail: unsortedTail) }

    private func sortTail() -> [UInt32] {
        let from = image.directory.sortedCount
        let ids = Array(UInt32(from)..<UInt32(streamCount))
        let names = ids.map { id in image.nameBytes(id).map { (Array($0.service), Array($0.stream)) } ?? ([], []) }
        return ids.indices.sorted { StreamOrder.less(names[$0].0, names[$0].1, names[$1].0, names[$1].1) }.map { ids[$0] }
    }

    /// The id of a stream, by its names (compared as bytes).
    public func streamID(service: String, stream: String) -> UInt32? {
        let s = Array(service.utf8), t = Array(stream.utf8)
        return sortedStreams.find(service: s, stream: t)
    }
}

/// A point in time reached through the index, and what it took.
public struct Reach: Sendable {
    public var position: Int
    public var versions: VersionMap
    /// Events, diffs or days applied.
    public var applied: Int
    /// Bytes of the index read (event diffs and nodes).
    public var bytesRead: Int
    /// Irreversible event positions crossed backwards, newest first (undo).
    public var crossed: [Int] = []
}

/// One event's effect on its stream, read from the index.
public struct IndexedTransition: Sendable {
    public var position: Int
    public var stream: UInt32
    public var key: StreamKey
    public var before: JSONValue?
    public var after: JSONValue?
    public var irreversible: Bool
}

/// Every stream in (service, stream) byte order: two sorted runs (the persisted record and the
/// streams added since it was written), merged as they are read.
public struct SortedStreams {
    let index: TimelineIndex
    let tail: [UInt32]

    var sortedCount: Int { index.image.sortedCount }
    public var count: Int { sortedCount + tail.count }

    func names(_ id: UInt32) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        index.image.nameBytes(id) ?? (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
    }

    func less(_ a: UInt32, _ b: UInt32) -> Bool {
        let x = names(a), y = names(b)
        return StreamOrder.less(x.0, x.1, y.0, y.1)
    }

    /// A run: the persisted record (`nil`) or the tail.
    func id(_ run: [UInt32]?, _ k: Int) -> UInt32 { run.map { $0[k] } ?? index.image.sortedID(k) ?? 0 }
    func runCount(_ run: [UInt32]?) -> Int { run?.count ?? sortedCount }

    /// All ids in order (merging the two runs).
    public func all() -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(count)
        var i = 0, j = 0
        while i < sortedCount || j < tail.count {
            if j == tail.count || (i < sortedCount && less(id(nil, i), tail[j])) { out.append(id(nil, i)); i += 1 } else { out.append(tail[j]); j += 1 }
        }
        return out
    }

    /// The first index in `run` whose names are not less than (service, stream).
    func lowerBound(_ run: [UInt32]?, service: [UInt8], stream: [UInt8]) -> Int {
        var lo = 0, hi = runCount(run)
        while lo < hi {
            let mid = (lo + hi) / 2
            let n = names(id(run, mid))
            if StreamOrder.less(n.0, n.1, service, stream) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func find(service: [UInt8], stream: [UInt8]) -> UInt32? {
        func matches(_ id: UInt32) -> Bool {
            let n = names(id)
            return StreamOrder.compare(n.0, service) == nil && StreamOrder.compare(n.1, stream) == nil
        }
        for run in [nil, tail] as [[UInt32]?] {
            let i = lowerBound(run, service: service, stream: stream)
            if i < runCount(run) && matches(id(run, i)) { return id(run, i) }
        }
        return nil
    }

    /// The ids of one service's streams, in order.
    public func streams(ofService service: String) -> [UInt32] {
        let s = Array(service.utf8)
        var out: [UInt32] = []
        for run in [nil, tail] as [[UInt32]?] {
            var i = lowerBound(run, service: s, stream: [])
            while i < runCount(run), StreamOrder.compare(names(id(run, i)).0, s) == nil {
                out.append(id(run, i))
                i += 1
            }
        }
        return tail.isEmpty ? out : out.sorted(by: less)
    }
}

/// A UTC day of the timeline: the events [first, end) and the state at its end.
public struct TimelineDay: Sendable {
    public let day: Int64
    public let first: Int
    public let end: Int
    /// The day is still open at the head of the log (a later event may continue it).
    public let open: Bool
    let map: MapRecord?
    let watermark: UInt32

    /// The date, `YYYY-MM-DD`.
    public var date: String { Timestamp.date(ofDay: day) }
}

extension TimelineIndex {
    /// Every day, in order (the last one open when the log may continue it).
    public var days: [TimelineDay] {
        var out = image.days.map { TimelineDay(day: $0.day, first: $0.first, end: $0.end, open: false, map: $0.map, watermark: $0.watermark) }
        if let open = image.directory.openDay {
            out.append(TimelineDay(day: open.day, first: open.first, end: count, open: true, map: image.directory.head, watermark: open.watermark))
        }
        return out
    }

    /// The state at the end of `day`.
    public func state(atEndOf day: TimelineDay) -> VersionMap { day.map.map(image.map) ?? empty }

    /// Distinct streams the events at `range` changed, ascending.
    public func streams(changedIn range: Range<Int>) -> [UInt32] {
        var seen = Set<UInt32>()
        image.forEachChunk(in: range) { c, r in for i in r { seen.insert(c.streams[i]) } }
        return seen.sorted()
    }

    /// Bytes of the nodes `day` changed: what its composite diff adds to the index.
    public func patchBytes(_ day: TimelineDay) -> Int {
        guard let m = day.map else { return 0 }
        var seen = Set<UInt32>()
        func walk(_ ref: UInt32, _ shift: Int) {
            guard ref != 0, ref >= day.watermark, seen.insert(ref).inserted else { return }
            let s = image.slots(ref)
            if shift > 0 { for i in 0..<32 { walk(s[i], shift - VersionMap.bits) } }
        }
        walk(m.root, m.shift)
        return seen.count * IndexFormat.nodeBytes
    }

    /// Bytes of the index file the current commit uses.
    public var fileBytes: Int { Int(image.liveBytes) }
}
