import Foundation

/// Where an index build writes: an append-only byte store with commits (the store module's
/// `IndexFile` over a file; `MemoryIndexOutput` in tests). Nothing appended is visible to
/// readers until `commit` points the header at a directory appended after it.
public protocol IndexOutput: AnyObject {
    /// Where the next append lands (always a multiple of 4).
    var end: UInt64 { get }
    /// Appends a record (padded to a multiple of 4 bytes); returns its offset.
    func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64
    /// Makes the directory appended at `offset` the committed version.
    func commit(directoryOffset: UInt64, length: Int) throws
}

extension IndexOutput {
    func append(_ bytes: [UInt8]) throws -> UInt64 { try bytes.withUnsafeBytes { try append($0) } }
}

/// Builds the timeline index by one forward fold: events in timeline order go in, segments of
/// records come out, each ending with a commit. Started on a committed index (`previous`), it
/// extends it from `previous.count` — or from an earlier position, replacing what came after
/// (`from`), when the store's last events changed.
///
/// Per event it keeps the stream id, the stream's version before the event and flags (a chunk
/// record per 4 096 events), and the stream's document after the event (a compressed block per
/// 256); the live map of versions is written at every keyframe (each 4 096 events), at the end
/// of each UTC day and of each segment, sharing every node that did not change.
public final class IndexBuilder {
    let output: IndexOutput
    let fold: Fold
    let identity: IndexIdentity
    let previous: IndexImage?
    let layout: IndexLayout
    /// Called with (events done) at each segment end.
    public var onProgress: (Int) -> Void = { _ in }

    private var trie: WorkingTrie
    /// The current document of each stream this build touched, parsed in `hot` for the streams
    /// touched lately (most events touch a stream touched shortly before), and as its canonical
    /// text (nil: none, or not written since it changed — then it is in `hot`, and written
    /// when it leaves) — a million streams' documents as trees would take gigabytes.
    private var documents: [[UInt8]?] = []
    private var hot = HotDocuments()
    /// Per stream: the size of its last whole document entry in this build (0: the next entry
    /// is whole), and the bytes and number of change entries written since.
    private struct Chain { var full: UInt32 = 0; var bytes: UInt32 = 0; var length: UInt32 = 0 }
    private var chains: [Chain] = []
    /// Streams whose document was read from `previous` (or that are new).
    private var loaded: [Bool] = []
    /// The position the next event must have.
    public private(set) var position: Int
    /// Streams registered: an event may name any id below this.
    public private(set) var streams: Int
    private var segments: [RecordRef]
    private var liveBytes: UInt64
    private var sorted: PagedRef
    private var sortedCount: Int
    private var openDay: OpenDay?
    private var lastEventID: [UInt8]
    /// The id of the last event added (made `lastEventID` when a directory is written).
    private var lastAdded: String?
    /// Streams registered before this build (their names are in `previous`).
    private let buildFirstStream: Int
    /// Names of the streams this build registered: (service, stream) byte ranges in `nameBytes`.
    private var nameOffsets: [UInt32] = [0]
    private var nameBytes: [UInt8] = []
    private var foldIssues: [FoldIssue] = []
    /// Each stream's service, numbered; rules looked up once per (service, type number).
    private var streamService: [UInt32] = []
    private var serviceNumbers: [JSONKey: UInt32] = [:]
    private var ruleCache: [UInt64: TypeRule?] = [:]

    // The segment being built.
    private var segmentFirst: Int
    private var segmentFirstStream: Int
    private var segmentStart: UInt64
    private var chunkRefs: [RecordRef] = []
    private var blockRefs: [RecordRef] = []
    private var rawLengths: [Int] = []
    private var keyframes: [MapRecord] = []
    private var days: [DayRecord] = []
    private var chunkStreams: [UInt32] = []
    private var chunkPrevious: [UInt32] = []
    private var chunkFlags: [UInt8] = []
    private var chunkLines: [UInt32] = []
    private var chunkTimes: [Int64] = []
    private var blockText: [UInt8] = []
    private var blockOffsets: [UInt32] = [0]
    private var issues = ByteWriter()
    private var issueCount = 0

    /// A new index (`previous` nil), or an extension of `previous` from `from` (default: its
    /// end). Segments wholly before `from` are kept; one that `from` cuts is rebuilt from its
    /// start, so `position` may be earlier than `from`: feed events from `position` on.
    public init(output: IndexOutput, fold: Fold, identity: IndexIdentity, layout: IndexLayout = .standard,
                previous: IndexImage? = nil, from: Int? = nil) throws {
        self.output = output
        self.layout = previous?.layout ?? layout
        self.fold = fold
        self.identity = identity
        self.previous = previous
        let start = min(from ?? previous?.count ?? 0, previous?.count ?? 0)
        segments = []
        liveBytes = UInt64(IndexFormat.headerSize)
        sorted = .none
        sortedCount = 0
        openDay = nil
        lastEventID = []
        position = 0
        streams = 0
        var startMap: MapRecord?
        if let previous, start > 0 {
            let kept = previous.footers.prefix { $0.first + $0.count <= start }
            if let last = kept.last {
                position = last.first + last.count
                streams = last.firstStream + last.streamCount
                segments = Array(previous.directory.segments.prefix(kept.count))
                liveBytes += UInt64(kept.reduce(0) { $0 + $1.size })
                openDay = last.openDay
                startMap = previous.mapAt(position)
                if position == previous.count { lastEventID = previous.directory.lastEventID }
                if previous.directory.sortedCount > 0 && previous.directory.sortedCount <= streams {
                    sorted = previous.directory.sorted
                    sortedCount = previous.directory.sortedCount
                    liveBytes += UInt64(sorted.length)
                }
            }
        }
        trie = WorkingTrie(image: startMap == nil ? nil : previous, start: startMap)
        buildFirstStream = streams
        segmentFirst = position
        segmentFirstStream = streams
        segmentStart = output.end
        documents = Array(repeating: nil, count: streams)
        chains = Array(repeating: Chain(), count: streams)
        loaded = Array(repeating: false, count: streams)
    }

    /// Registers the next stream id (ids are dense, in order); returns it.
    @discardableResult
    public func addStream(service: String, stream: String) -> UInt32 {
        var service = service, stream = stream
        service.withUTF8 { nameBytes.append(contentsOf: $0) }
        nameOffsets.append(UInt32(nameBytes.count))
        stream.withUTF8 { nameBytes.append(contentsOf: $0) }
        nameOffsets.append(UInt32(nameBytes.count))
        documents.append(nil)
        chains.append(Chain())
        loaded.append(true)
        if !fold.rules.services.isEmpty { streamService.append(serviceNumber(service)) }
        streams += 1
        return UInt32(streams - 1)
    }

    private func serviceNumber(_ service: String) -> UInt32 {
        let key = JSONKey(service)
        if let n = serviceNumbers[key] { return n }
        let n = UInt32(serviceNumbers.count)
        serviceNumbers[key] = n
        return n
    }

    /// The rule of `event`: looked up by name once per (service, `kind`) when the caller numbers
    /// types (`kind`), else each time.
    private func rule(_ event: Event, stream id: UInt32, kind: UInt32?) -> TypeRule? {
        guard !fold.rules.services.isEmpty else { return nil }
        guard let kind else { return fold.rules.rule(service: event.service, type: event.type) }
        if Int(id) >= streamService.count {
            // Streams registered before this build: their services are numbered as they come.
            while streamService.count < Int(id) { streamService.append(.max) }
            streamService.append(serviceNumber(event.service))
        } else if streamService[Int(id)] == .max {
            streamService[Int(id)] = serviceNumber(event.service)
        }
        let key = UInt64(streamService[Int(id)]) << 32 | UInt64(kind)
        if let cached = ruleCache[key] { return cached }
        let r = fold.rules.rule(service: event.service, type: event.type)
        ruleCache[key] = r
        return r
    }

    /// The ops the fold skipped so far in this build.
    public var skipped: [FoldIssue] { foldIssues }

    /// Folds the next event of the timeline (at `position`), of stream `id` (registered before).
    /// `kind`: the caller's number for the event's type (the same type, the same number), which
    /// saves looking its rule up by name. `dataText`: the event's `data` as JSON text, in place
    /// of `event.data` (an import has the text; the default fold then merges it as it reads it).
    public func add(_ event: Event, stream id: UInt32, kind: UInt32? = nil, dataText: UnsafeBufferPointer<UInt8>? = nil) throws {
        precondition(Int(id) < streams, "stream \(id) was not registered")
        let day = event.ts.utcDay
        if let open = openDay, open.day != day { try closeDay(open) }
        if openDay == nil { openDay = OpenDay(day: day, first: position, watermark: UInt32(output.end / 4)) }
        let before = trie.value(id)
        if !loaded[Int(id)] {
            loaded[Int(id)] = true
            if let previous, StreamVersion.hasDocument(before), let last = StreamVersion.lastEvent(before) {
                documents[Int(id)] = previous.documentText(after: last).map(Array.init)
                try previous.check()
            }
        }
        // Taken out of `hot`, the document is uniquely referenced while the fold changes it.
        var document = hot.take(id)
        if document == nil, let text = documents[Int(id)] {
            document = try text.withUnsafeBufferPointer { try JSONParser.parse($0, depthLimit: 4 * JSONParser.maxDepth) }
        }
        documents[Int(id)] = nil
        let issuesBefore = foldIssues.count
        let rule = rule(event, stream: id, kind: kind)
        let change: DocumentChange
        if let dataText, rule == nil, chains[Int(id)].full < UInt32(layout.deltaFrom), !event.replacesDocument {
            // The default fold, merged from the text. Its change is not kept: the entry is the
            // whole document (see `writeEntry`).
            if document == nil { document = .emptyObject }
            try document!.mergePatch(text: dataText)
            change = .ops([])
        } else if let dataText {
            var parsed = event
            parsed.data = try JSONParser.parse(dataText)
            change = fold.apply(parsed, rule: rule, toDocument: &document, issues: &foldIssues)
        } else {
            change = fold.apply(event, rule: rule, toDocument: &document, issues: &foldIssues)
        }
        for issue in foldIssues[issuesBefore...] {
            issues.u64(UInt64(position))
            issues.u64(UInt64(issue.line))
            issues.blob(Array(issue.eventID.utf8))
            issues.blob(Array(issue.message.utf8))
            issueCount += 1
        }
        trie.set(id, StreamVersion.make(position: position, hasDocument: document != nil))
        chunkStreams.append(id)
        chunkPrevious.append(before)
        chunkLines.append(UInt32(truncatingIfNeeded: event.line))
        chunkTimes.append(event.ts.nanoseconds)
        chunkFlags.append((document != nil ? IndexFormat.hasDocument : 0) | (fold.isIrreversible(event, rule: rule) ? IndexFormat.irreversible : 0))
        if let document {
            let start = blockText.count
            if writeEntry(document, change: change, stream: Int(id), hadDocument: StreamVersion.hasDocument(before)) {
                // A copy of its own: `Array(blockText[start...])` may share the block's whole buffer
                // (when the slice spans it), which then stays alive with the stream (800 MB at 10M events).
                documents[Int(id)] = blockText.withUnsafeBufferPointer { Array(UnsafeBufferPointer(rebasing: $0[start...])) }
            }
            // Out of `hot`, a document is kept as its text (a million streams' trees would take gigabytes).
            if let (evicted, doc) = hot.keep(document, for: id), documents[Int(evicted)] == nil {
                var text: [UInt8] = []
                doc.write(to: &text)
                documents[Int(evicted)] = text
            }
        } else {
            chains[Int(id)] = Chain()
        }
        blockOffsets.append(UInt32(blockText.count))
        position += 1
        lastAdded = event.id

        if chunkStreams.count == layout.keyframeInterval { try writeChunk() }
        if blockOffsets.count - 1 == layout.docBlockEvents { try writeBlock() }
        if position % layout.keyframeInterval == 0 { keyframes.append(try persistMap()) }
        if position - segmentFirst >= layout.segmentEvents { try endSegment() }
    }

    /// The stream's document after the event, as its block entry: the whole canonical text, or —
    /// when the document is large (`layout.deltaFrom`) — the change (`DocumentChange`, after an
    /// `IndexFormat.deltaEntry` byte), while the changes since the last whole text stay within
    /// that text's size and a bounded number of entries. So what the entries cost stays
    /// proportional to the events, and a reader rebuilds a document from about twice its size.
    /// Returns whether the entry is the whole text.
    private func writeEntry(_ document: JSONValue, change: DocumentChange, stream id: Int, hadDocument: Bool) -> Bool {
        let start = blockText.count
        let chain = chains[id]
        if hadDocument, chain.full >= UInt32(layout.deltaFrom), case .ops = change, chain.length < max(64, chain.full / 1024) {
            blockText.append(IndexFormat.deltaEntry)
            change.write(to: &blockText)
            let size = UInt32(clamping: blockText.count - start)
            if chain.bytes + size <= chain.full {
                chains[id].bytes += size
                chains[id].length += 1
                return false
            }
            blockText.removeSubrange(start...)
        }
        document.write(to: &blockText)
        chains[id] = Chain(full: UInt32(clamping: blockText.count - start), bytes: 0, length: 0)
        return true
    }

    /// Writes what is left and commits. `lastEventID`: the id of the store's last event, when
    /// this build added none after cutting (else the last event added gives it).
    public func finish(lastEventID id: String? = nil) throws {
        if let id, position == segmentFirst { lastEventID = Array(id.utf8) }
        try endSegment(force: true)
    }

    // MARK: records

    private func writeNode(_ slots: UnsafePointer<UInt32>) throws -> UInt32 {
        guard output.end / 4 < UInt64(NodeRef.scratchBit) else { throw IndexDamage("the index file would pass 8 GB") }
        let ref = UInt32(output.end / 4)
        var record = [UInt32](repeating: 0, count: IndexFormat.nodeWords)
        for i in 0..<32 { record[i] = slots[i].littleEndian }
        record[32] = record.withUnsafeBufferPointer { IndexFormat.nodeCheck($0.baseAddress!, ref: ref).littleEndian }
        let offset = try record.withUnsafeBytes { try output.append($0) }
        precondition(offset == UInt64(ref) * 4)
        return ref
    }

    private func persistMap() throws -> MapRecord {
        try trie.persist(position: position, write: writeNode)
    }

    private func closeDay(_ open: OpenDay) throws {
        let map = try persistMap()
        days.append(DayRecord(day: open.day, first: open.first, end: position, map: map, watermark: open.watermark))
        openDay = nil
    }

    private func writeChunk() throws {
        guard !chunkStreams.isEmpty else { return }
        var w = ByteWriter(capacity: chunkStreams.count * IndexFormat.chunkBytesPerEvent)
        w.u32s(chunkStreams)
        w.u32s(chunkPrevious)
        w.u32s(chunkLines)
        chunkTimes.withUnsafeBytes { w.raw($0) }
        w.raw(chunkFlags)
        let offset = try output.append(w.bytes)
        chunkRefs.append(RecordRef(offset: offset, length: w.bytes.count, checksum: ContentHash.of(w.bytes)))
        chunkStreams.removeAll(keepingCapacity: true)
        chunkPrevious.removeAll(keepingCapacity: true)
        chunkLines.removeAll(keepingCapacity: true)
        chunkTimes.removeAll(keepingCapacity: true)
        chunkFlags.removeAll(keepingCapacity: true)
    }

    private func writeBlock() throws {
        let n = blockOffsets.count - 1
        guard n > 0 else { return }
        var w = ByteWriter(capacity: 4 * (n + 2) + blockText.count)
        w.u32(UInt32(n))
        w.u32s(blockOffsets)
        w.raw(blockText)
        let compressed = Compression.deflate(w.bytes)
        let offset = try output.append(compressed)
        blockRefs.append(RecordRef(offset: offset, length: compressed.count, checksum: ContentHash.of(compressed)))
        rawLengths.append(w.bytes.count)
        blockText.removeAll(keepingCapacity: true)
        blockOffsets.removeAll(keepingCapacity: true)
        blockOffsets.append(0)
    }

    /// Ends the segment being built (if it has anything, or `force`) and commits.
    private func endSegment(force: Bool = false) throws {
        try writeChunk()
        try writeBlock()
        let count = position - segmentFirst
        let newStreams = streams - segmentFirstStream
        guard count > 0 || newStreams > 0 || force else { return }
        if count > 0 || newStreams > 0 || segments.isEmpty {
            var names = PagedRef.none
            if newStreams > 0 {
                let base = (segmentFirstStream - buildFirstStream) * 2
                var w = ByteWriter(capacity: 4 * (2 * newStreams + 1))
                let origin = nameOffsets[base]
                for o in nameOffsets[base...] { w.u32(o - origin) }
                w.raw(Array(nameBytes[Int(origin)..<Int(nameOffsets.last!)]))
                names = PagedRef.of(w.bytes, at: try output.append(w.bytes))
            }
            var issueRef = RecordRef.none
            if issueCount > 0 {
                var w = ByteWriter()
                w.u32(UInt32(issueCount))
                w.raw(issues.bytes)
                issueRef = RecordRef(offset: try output.append(w.bytes), length: w.bytes.count, checksum: ContentHash.of(w.bytes))
            }
            let end = try persistMap()
            if count > 0 && keyframes.last?.position != end.position { keyframes.append(end) }
            var footer = SegmentFooter(first: segmentFirst, count: count, firstStream: segmentFirstStream, streamCount: newStreams,
                                       chunks: chunkRefs, docBlocks: blockRefs, rawLengths: rawLengths, keyframes: keyframes,
                                       days: days, names: names, issues: issueRef, openDay: openDay, size: 0)
            footer.size = Int(output.end - segmentStart) + footer.encoded().count
            let bytes = footer.encoded()
            let offset = try output.append(bytes)
            segments.append(RecordRef(offset: offset, length: bytes.count, checksum: ContentHash.of(bytes)))
            liveBytes += UInt64(footer.size)
        }
        // The sorted list is written when a build ends, if more than a few streams are missing
        // from it (readers sort those few themselves); not at every segment of a long build.
        if force && streams - sortedCount > (sortedCount == 0 ? 0 : max(1024, streams / 64)) { try writeSorted() }
        let head = try persistMap()
        if let id = lastAdded { lastEventID = Array(id.utf8); lastAdded = nil }
        let directory = IndexDirectory(identity: identity, layout: layout, lastEventID: lastEventID, count: position, streams: streams, head: head,
                                       openDay: openDay, liveBytes: liveBytes, segments: segments, sorted: sorted, sortedCount: sortedCount)
        let encoded = directory.encoded()
        let at = try output.append(encoded)
        try output.commit(directoryOffset: at, length: encoded.count)
        onProgress(position)
        segmentFirst = position
        segmentFirstStream = streams
        segmentStart = output.end
        chunkRefs = []
        blockRefs = []
        rawLengths = []
        keyframes = []
        days = []
        issues = ByteWriter()
        issueCount = 0
    }

    /// Writes every stream id in (service, stream) byte order.
    private func writeSorted() throws {
        // Every name in one buffer: earlier streams' from `previous`, then this build's.
        var offsets: [Int] = [0]
        var bytes: [UInt8] = []
        offsets.reserveCapacity(2 * streams + 1)
        for id in 0..<buildFirstStream {
            guard let n = previous?.nameBytes(UInt32(id)) else {
                try previous?.check()
                throw IndexDamage("a stream name is missing")
            }
            bytes.append(contentsOf: n.service)
            offsets.append(bytes.count)
            bytes.append(contentsOf: n.stream)
            offsets.append(bytes.count)
        }
        let base = bytes.count
        bytes.append(contentsOf: nameBytes)
        for o in nameOffsets.dropFirst() { offsets.append(base + Int(o)) }
        let ids = bytes.withUnsafeBufferPointer { b in
            (0..<UInt32(streams)).sorted { x, y in
                let i = Int(x) * 2, j = Int(y) * 2
                return StreamOrder.less(b[offsets[i]..<offsets[i + 1]], b[offsets[i + 1]..<offsets[i + 2]],
                                        b[offsets[j]..<offsets[j + 1]], b[offsets[j + 1]..<offsets[j + 2]])
            }
        }
        var w = ByteWriter(capacity: ids.count * 4)
        w.u32s(ids)
        if sortedCount > 0 { liveBytes -= UInt64(sorted.length) }
        sorted = PagedRef.of(w.bytes, at: try output.append(w.bytes))
        sortedCount = ids.count
        liveBytes += UInt64(w.bytes.count)
    }
}

/// The parsed documents of the streams touched last: a ring of 65 536 slots, the oldest
/// overwritten (its text is kept anyway); found by stream id without hashing.
struct HotDocuments {
    private var slotOf: [Int32] = []
    private var ring: [(id: UInt32, doc: JSONValue?)] = Array(repeating: (0, nil), count: 1 << 16)
    private var next = 0

    /// The stream's document, if it is here (and then no longer here).
    mutating func take(_ id: UInt32) -> JSONValue? {
        guard Int(id) < slotOf.count, slotOf[Int(id)] >= 0 else { return nil }
        let slot = Int(slotOf[Int(id)])
        slotOf[Int(id)] = -1
        defer { ring[slot].doc = nil }
        return ring[slot].doc
    }

    /// Keeps the stream's document; returns the one it pushed out (that stream's current
    /// document), if any.
    mutating func keep(_ doc: JSONValue, for id: UInt32) -> (UInt32, JSONValue)? {
        while slotOf.count <= Int(id) { slotOf.append(-1) }
        let old = ring[next]
        var evicted: (UInt32, JSONValue)?
        if let oldDoc = old.doc, slotOf[Int(old.id)] == Int32(next) {
            slotOf[Int(old.id)] = -1
            evicted = (old.id, oldDoc)
        }
        ring[next] = (id, doc)
        slotOf[Int(id)] = Int32(next)
        next = (next + 1) & (ring.count - 1)
        return evicted
    }
}

/// The order of streams everywhere: by service, then stream, comparing UTF-8 bytes (code points),
/// never Swift's `String <`, which orders by canonical equivalence.
public enum StreamOrder {
    public static func less<A: Collection, B: Collection>(_ s1: A, _ t1: A, _ s2: B, _ t2: B) -> Bool
        where A.Element == UInt8, B.Element == UInt8 {
        switch compare(s1, s2) {
        case .some(true): return true
        case .some(false): return false
        case nil: return compare(t1, t2) == true
        }
    }

    /// true: a < b, false: a > b, nil: equal.
    static func compare<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool? where A.Element == UInt8, B.Element == UInt8 {
        var i = a.makeIterator(), j = b.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return nil
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?): if x != y { return x < y }
            }
        }
    }

    public static func less(_ a: String, _ b: String) -> Bool {
        // Contiguous UTF-8 (every native string): one memcmp.
        if let r = a.utf8.withContiguousStorageIfAvailable({ x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }), let r { return r }
        return compare(a.utf8, b.utf8) == true
    }
}

extension IndexBuilder {
    /// Registers the streams `source` has beyond those registered, then folds its events from
    /// `position` up to `end`. `progress` gets (events done, `end`) now and then.
    public func add(from source: NumberedEventSource, to end: Int, progress: (Int, Int) -> Void = { _, _ in }) throws {
        for (service, stream) in try source.streamNames(from: streams) { addStream(service: service, stream: stream) }
        guard position < end else { return }
        var done = position
        try source.forEachNumberedEvent(in: position..<end) { event, id in
            try add(event, stream: id)
            done += 1
            if done % 16_384 == 0 { progress(done, end) }
        }
        progress(done, end)
    }
}
