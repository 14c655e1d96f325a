import Foundation

/// The bytes of an index file as of one commit (memory-mapped by the store module, or an array
/// in tests), read record by record: opening parses the header, the directory and the segment
/// footers — a few hundred kilobytes at 10M events — and nothing else. Every other record is
/// checked against its checksum when first read (nodes on every read: 20 ns each); a mismatch
/// records `damage` and reads as zeros, and every result the engine serves checks `damage` first.
///
/// One thread at a time (a command's or the explorer's).
public final class IndexImage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the mapping alive.
    let owner: AnyObject?
    let directory: IndexDirectory
    let footers: [SegmentFooter]
    /// The first damage found while reading (nil: none so far).
    public private(set) var damage: IndexDamage?

    /// Position of each segment's first event, ascending.
    let segmentFirst: [Int]
    /// Id of each segment's first stream, ascending.
    let segmentFirstStream: [Int]
    /// Every persisted map with a position (keyframes, day ends, segment ends), by position.
    let maps: [MapRecord]
    let mapPositions: [Int]
    let days: [DayRecord]
    /// Committed file length, in node references (for the open day's watermark test).
    let fileEnd: Int

    private var verifiedChunks: [[Bool]]
    private var names: [Paged?]
    private var sorted: Paged?
    private var blockCache: [Int: [UInt8]] = [:]
    /// Documents rebuilt from change entries, the last four.
    private var rebuiltCache: [(position: Int, doc: JSONValue)] = []
    private var blockOrder: [Int] = []
    static let blockCacheSize = 96
    /// Bytes read from records so far (for `compare`'s bytes column).
    public private(set) var bytesRead = 0

    public var count: Int { directory.count }
    public var layout: IndexLayout { directory.layout }
    public var streamCount: Int { directory.streams }
    public var identity: IndexIdentity { directory.identity }
    public var lastEventID: String { String(decoding: directory.lastEventID, as: UTF8.self) }
    /// Bytes of the file that the current commit uses.
    public var liveBytes: UInt64 { directory.liveBytes }
    public var segmentCount: Int { footers.count }
    /// Where the last segment starts, and how many events it holds.
    public var lastSegment: (first: Int, count: Int)? { footers.last.map { ($0.first, $0.count) } }

    /// Reads the committed index in `bytes` (a whole file). Throws when the header, directory or
    /// a footer is damaged, or the file is shorter than its commit says.
    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws(IndexDamage) {
        self.bytes = bytes
        self.owner = owner
        guard bytes.count >= IndexFormat.headerSize, Array(bytes[0..<8]) == IndexFormat.magic else {
            throw IndexDamage("not a rewind index (wrong magic)")
        }
        guard bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == IndexFormat.version.littleEndian else {
            throw IndexDamage("of another format version", outdated: true)
        }
        let slots = IndexFormat.slotOffsets.enumerated().compactMap { i, o in
            RootSlot.decode(UnsafeRawBufferPointer(rebasing: bytes[o..<(o + IndexFormat.slotSize)]), slot: i)
        }
        guard let root = slots.max(by: { $0.generation < $1.generation }) else { throw IndexDamage("no root slot is whole") }
        guard root.fileLength <= UInt64(bytes.count) else {
            throw IndexDamage("the file is shorter (\(bytes.count) bytes) than its last commit (\(root.fileLength) bytes): truncated")
        }
        let directory = try IndexDirectory.decode(try IndexImage.region(bytes, root.directoryOffset, Int(root.directoryLength), "the directory"))
        var footers: [SegmentFooter] = []
        for ref in directory.segments {
            let region = try IndexImage.region(bytes, ref.offset, ref.length, "a segment footer")
            guard ContentHash.of(region) == ref.checksum else { throw IndexDamage("a segment footer's checksum does not match") }
            footers.append(try SegmentFooter.decode(region, layout: directory.layout))
        }
        // Segments follow each other without gaps, and their streams too.
        var position = 0, streams = 0
        for f in footers {
            guard f.first == position, f.firstStream == streams else { throw IndexDamage("segments do not follow each other") }
            position += f.count
            streams += f.streamCount
        }
        guard position == directory.count, streams == directory.streams else {
            throw IndexDamage("the segments do not add up to the directory's counts")
        }
        self.directory = directory
        self.footers = footers
        segmentFirst = footers.map(\.first)
        segmentFirstStream = footers.map(\.firstStream)
        var maps = footers.flatMap(\.keyframes)
        maps.append(directory.head)
        maps.sort { $0.position < $1.position }
        self.maps = maps
        mapPositions = maps.map(\.position)
        days = footers.flatMap(\.days)
        fileEnd = Int(root.fileLength / 4)
        verifiedChunks = footers.map { Array(repeating: false, count: $0.chunks.count) }
        names = Array(repeating: nil, count: footers.count)
        for m in maps + days.map(\.map) where m.root != 0 {
            guard !NodeRef.isScratch(m.root), Int(m.root) * 4 + IndexFormat.nodeBytes <= bytes.count else {
                throw IndexDamage("a keyframe points outside the file")
            }
        }
    }

    static func region(_ bytes: UnsafeRawBufferPointer, _ offset: UInt64, _ length: Int, _ what: String) throws(IndexDamage) -> UnsafeRawBufferPointer {
        guard length >= 0, offset <= UInt64(bytes.count), UInt64(length) <= UInt64(bytes.count) - offset else {
            throw IndexDamage("\(what) lies outside the file")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<(Int(offset) + length)])
    }

    func record(_ ref: RecordRef, _ what: String) -> UnsafeRawBufferPointer? {
        do {
            let region = try IndexImage.region(bytes, ref.offset, ref.length, what)
            guard ContentHash.of(region) == ref.checksum else {
                noteDamage(IndexDamage("\(what): its checksum does not match"))
                return nil
            }
            bytesRead += ref.length
            return region
        } catch {
            noteDamage(error)
            return nil
        }
    }

    func noteDamage(_ d: IndexDamage) {
        if damage == nil { damage = d }
    }

    /// Throws the damage found so far, if any.
    public func check() throws {
        if let damage { throw damage }
    }

    // MARK: nodes

    /// The slots of the file node at `ref`, checked (zeros when it is damaged or out of bounds).
    @inline(__always) func slots(_ ref: UInt32) -> UnsafePointer<UInt32> {
        let offset = Int(ref) * 4
        guard offset >= IndexFormat.headerSize, offset + IndexFormat.nodeBytes <= bytes.count else {
            noteDamage(IndexDamage("a node reference points outside the file"))
            return NodeScratch.zeros
        }
        let p = (bytes.baseAddress! + offset).assumingMemoryBound(to: UInt32.self)
        guard UInt32(littleEndian: p[32]) == IndexFormat.nodeCheck(p, ref: ref) else {
            noteDamage(IndexDamage("a keyframe node's check word does not match"))
            return NodeScratch.zeros
        }
        return p
    }

    /// The persisted map `m`.
    func map(_ m: MapRecord) -> VersionMap {
        VersionMap(image: self, root: m.root, shift: m.shift, count: m.count, existing: m.existing)
    }

    // MARK: events

    /// The segment holding `position`.
    @inline(__always) func segment(of position: Int) -> Int {
        var lo = 0, hi = segmentFirst.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segmentFirst[mid] <= position { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    /// The per-event arrays of one chunk: stream ids, previous versions, lines, timestamps,
    /// flags (nil: damaged).
    struct Chunk {
        let first: Int
        let count: Int
        let streams: UnsafePointer<UInt32>
        let previous: UnsafePointer<UInt32>
        let lines: UnsafePointer<UInt32>
        let times: UnsafeRawPointer
        let flags: UnsafePointer<UInt8>

        @inline(__always) func ts(_ i: Int) -> Int64 { Int64(littleEndian: times.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
    }

    func chunk(segment s: Int, index c: Int) -> Chunk? {
        let f = footers[s]
        let first = f.first + c * layout.keyframeInterval
        let n = min(layout.keyframeInterval, f.first + f.count - first)
        let ref = f.chunks[c]
        guard ref.length == n * IndexFormat.chunkBytesPerEvent else {
            noteDamage(IndexDamage("an event chunk has the wrong size"))
            return nil
        }
        let region: UnsafeRawBufferPointer
        if verifiedChunks[s][c] {
            region = UnsafeRawBufferPointer(rebasing: bytes[Int(ref.offset)..<(Int(ref.offset) + ref.length)])
        } else {
            guard let r = record(ref, "an event chunk") else { return nil }
            guard Int(ref.offset) % 4 == 0 else {
                noteDamage(IndexDamage("an event chunk is misaligned"))
                return nil
            }
            verifiedChunks[s][c] = true
            region = r
        }
        let base = region.baseAddress!
        return Chunk(first: first, count: n, streams: base.assumingMemoryBound(to: UInt32.self),
                     previous: (base + 4 * n).assumingMemoryBound(to: UInt32.self),
                     lines: (base + 8 * n).assumingMemoryBound(to: UInt32.self), times: base + 12 * n,
                     flags: (base + 20 * n).assumingMemoryBound(to: UInt8.self))
    }

    /// Calls `body` with the chunks covering `range`, in order (each with the part of it in range).
    func forEachChunk(in range: Range<Int>, _ body: (Chunk, Range<Int>) throws -> Void) rethrows {
        var p = range.lowerBound
        while p < range.upperBound {
            let s = segment(of: p)
            let c = (p - footers[s].first) / layout.keyframeInterval
            guard let chunk = chunk(segment: s, index: c) else { return }
            let end = min(range.upperBound, chunk.first + chunk.count)
            try body(chunk, (p - chunk.first)..<(end - chunk.first))
            p = end
        }
    }

    /// (stream, previous version, flags) of the event at `position`.
    func event(_ position: Int) -> (stream: UInt32, previous: UInt32, flags: UInt8) {
        guard position >= 0, position < count else { return (0, 0, 0) }
        var out: (UInt32, UInt32, UInt8) = (0, 0, 0)
        forEachChunk(in: position..<(position + 1)) { c, r in
            out = (UInt32(littleEndian: c.streams[r.lowerBound]), UInt32(littleEndian: c.previous[r.lowerBound]), c.flags[r.lowerBound])
        }
        return out
    }

    // MARK: documents

    /// The canonical JSON text of the document after the event at `position` (nil: none, or
    /// damaged). An entry that holds the event's change is rebuilt (`rebuilt(after:)`).
    func documentText(after position: Int) -> ArraySlice<UInt8>? {
        guard let entry = documentEntry(after: position) else { return nil }
        guard entry.first == IndexFormat.deltaEntry else { return entry }
        guard let doc = rebuilt(after: position) else { return nil }
        var out: [UInt8] = []
        doc.write(to: &out)
        return out[...]
    }

    /// The document after a change entry at `position`: the stream's last whole text before it,
    /// parsed, through the changes since (at most about the document's size). The last few are
    /// kept: a frame of the explorer reads the same large document more than once.
    private func rebuilt(after position: Int) -> JSONValue? {
        if let hit = rebuiltCache.first(where: { $0.position == position }) { return hit.doc }
        guard let entry = documentEntry(after: position) else { return nil }
        var changes: [ArraySlice<UInt8>] = [entry]
        var p = position
        var base: ArraySlice<UInt8>?
        while base == nil {
            let previous = event(p).previous
            guard StreamVersion.hasDocument(previous), let last = StreamVersion.lastEvent(previous), last < p,
                  let e = documentEntry(after: last) else {
                noteDamage(IndexDamage("a document's changes do not lead back to a whole document"))
                return nil
            }
            if e.first == IndexFormat.deltaEntry { changes.append(e) } else { base = e }
            p = last
        }
        var doc: JSONValue?
        do {
            doc = try base!.withUnsafeBufferPointer { try JSONParser.parse($0, depthLimit: 4 * JSONParser.maxDepth) }
        } catch {
            noteDamage(IndexDamage("a stored document does not parse"))
            return nil
        }
        for change in changes.reversed() {
            guard let c = change.dropFirst().withUnsafeBufferPointer({ DocumentChange(text: $0) }) else {
                noteDamage(IndexDamage("a document change does not parse"))
                return nil
            }
            c.apply(to: &doc)
        }
        if rebuiltCache.count >= 4 { rebuiltCache.removeFirst() }
        if let doc { rebuiltCache.append((position, doc)) }
        return doc
    }

    /// The change the event at `position` made, when its entry holds one (nil: a whole text,
    /// no document, or damaged).
    func change(after position: Int) -> DocumentChange? {
        guard let entry = documentEntry(after: position), entry.first == IndexFormat.deltaEntry else { return nil }
        guard let c = entry.dropFirst().withUnsafeBufferPointer({ DocumentChange(text: $0) }) else {
            noteDamage(IndexDamage("a document change does not parse"))
            return nil
        }
        return c
    }

    /// The document entry of the event at `position`: the document's text, or 0x01 and the
    /// event's change (nil: no document, or damaged).
    func documentEntry(after position: Int) -> ArraySlice<UInt8>? {
        guard position >= 0, position < count else { return nil }
        let s = segment(of: position)
        let local = position - footers[s].first
        guard let block = docBlock(segment: s, index: local / layout.docBlockEvents) else { return nil }
        let i = local % layout.docBlockEvents
        return block.withUnsafeBytes { raw -> ArraySlice<UInt8>? in
            let n = Int(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
            guard i < n, raw.count >= 4 * (n + 2) else {
                noteDamage(IndexDamage("a document block is malformed"))
                return nil
            }
            let start = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * (i + 1), as: UInt32.self)))
            let end = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * (i + 2), as: UInt32.self)))
            let text = 4 * (n + 2)
            guard start <= end, text + end <= raw.count else {
                noteDamage(IndexDamage("a document block is malformed"))
                return nil
            }
            return start == end ? nil : block[(text + start)..<(text + end)]
        }
    }

    /// A document block inflated: [count][count + 1 offsets][text] (cached: the last 96 read).
    func docBlock(segment s: Int, index b: Int) -> [UInt8]? {
        let key = s << 24 | b
        if let cached = blockCache[key] { return cached }
        let f = footers[s]
        guard b < f.docBlocks.count, let compressed = record(f.docBlocks[b], "a document block") else { return nil }
        guard let raw = Compression.inflate(compressed, rawLength: f.rawLengths[b]) else {
            noteDamage(IndexDamage("a document block does not inflate"))
            return nil
        }
        if blockOrder.count >= IndexImage.blockCacheSize {
            blockCache.removeValue(forKey: blockOrder.removeFirst())
        }
        blockCache[key] = raw
        blockOrder.append(key)
        return raw
    }

    /// The document after the event at `position`, parsed.
    func document(after position: Int) -> JSONValue? {
        guard let text = documentEntry(after: position) else { return nil }
        if text.first == IndexFormat.deltaEntry { return rebuilt(after: position) }
        do {
            return try text.withUnsafeBufferPointer { try JSONParser.parse($0, depthLimit: 4 * JSONParser.maxDepth) }
        } catch {
            noteDamage(IndexDamage("a stored document does not parse"))
            return nil
        }
    }

    // MARK: streams

    /// A paged record's bytes, each page checked when first read.
    struct Paged {
        let bytes: UnsafeRawBufferPointer
        let pages: [UInt64]
        var checked: [Bool]
    }

    func paged(_ ref: PagedRef, _ what: String) -> Paged? {
        do {
            let region = try IndexImage.region(bytes, ref.offset, ref.length, what)
            return Paged(bytes: region, pages: ref.pages, checked: Array(repeating: false, count: ref.pages.count))
        } catch {
            noteDamage(error)
            return nil
        }
    }

    /// Checks the pages of `p` that `range` covers; false (and damage noted) when one does not match.
    func check(_ p: inout Paged, _ range: Range<Int>, _ what: String) -> Bool {
        guard range.lowerBound >= 0, range.upperBound <= p.bytes.count else {
            noteDamage(IndexDamage("\(what) is malformed"))
            return false
        }
        guard !range.isEmpty else { return true }
        for page in (range.lowerBound / PagedRef.pageSize)...((range.upperBound - 1) / PagedRef.pageSize) where !p.checked[page] {
            let start = page * PagedRef.pageSize
            let chunk = UnsafeRawBufferPointer(rebasing: p.bytes[start..<min(p.bytes.count, start + PagedRef.pageSize)])
            guard ContentHash.of(chunk) == p.pages[page] else {
                noteDamage(IndexDamage("\(what): its checksum does not match"))
                return false
            }
            bytesRead += chunk.count
            p.checked[page] = true
        }
        return true
    }

    /// The UTF-8 bytes of stream `id`'s service and stream names.
    func nameBytes(_ id: UInt32) -> (service: UnsafeRawBufferPointer, stream: UnsafeRawBufferPointer)? {
        guard Int(id) < streamCount else { return nil }
        var lo = 0, hi = segmentFirstStream.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segmentFirstStream[mid] <= Int(id) { lo = mid + 1 } else { hi = mid }
        }
        // Segments that added no streams share a first id: the last of them with streams holds it.
        var s = lo - 1
        while s > 0 && footers[s].streamCount == 0 { s -= 1 }
        guard s >= 0, footers[s].streamCount > 0 else { return nil }
        if names[s] == nil { names[s] = paged(footers[s].names, "a stream name table") }
        guard names[s] != nil else { return nil }
        let n = footers[s].streamCount, i = Int(id) - footers[s].firstStream
        let text = 4 * (2 * n + 1)
        guard check(&names[s]!, (8 * i)..<(8 * i + 12), "a stream name table") else { return nil }
        let t = names[s]!.bytes
        func offset(_ k: Int) -> Int { Int(UInt32(littleEndian: t.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))) }
        let a = offset(2 * i), b = offset(2 * i + 1), c = offset(2 * i + 2)
        guard a <= b, b <= c, text + c <= t.count, check(&names[s]!, (text + a)..<(text + c), "a stream name table") else {
            noteDamage(IndexDamage("a stream name table is malformed"))
            return nil
        }
        return (UnsafeRawBufferPointer(rebasing: t[(text + a)..<(text + b)]), UnsafeRawBufferPointer(rebasing: t[(text + b)..<(text + c)]))
    }

    /// How many streams the sorted record orders.
    var sortedCount: Int { directory.sortedCount }

    /// The `k`th stream id of the sorted record (in (service, stream) byte order).
    func sortedID(_ k: Int) -> UInt32? {
        if sorted == nil {
            guard directory.sorted.length == 4 * directory.sortedCount else {
                noteDamage(IndexDamage("the sorted stream list has the wrong size"))
                return nil
            }
            sorted = paged(directory.sorted, "the sorted stream list")
        }
        guard sorted != nil, check(&sorted!, (4 * k)..<(4 * k + 4), "the sorted stream list") else { return nil }
        return UInt32(littleEndian: sorted!.bytes.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))
    }

    // MARK: issues

    /// The ops the fold skipped at positions in `range`.
    func issues(in range: Range<Int>) -> [(position: Int, issue: FoldIssue)] {
        var out: [(Int, FoldIssue)] = []
        for f in footers where f.issues.length > 0 && f.first < range.upperBound && f.first + f.count > range.lowerBound {
            guard let region = record(f.issues, "the fold's issues") else { return out }
            do {
                var r = ByteReader(region, what: "the fold's issues")
                for _ in 0..<(try r.count(of: 24)) {
                    let position = try r.int(limit: UInt64(UInt32.max)), line = try r.int(limit: UInt64(Int32.max))
                    let id = String(decoding: try r.blob(), as: UTF8.self), message = String(decoding: try r.blob(), as: UTF8.self)
                    if range.contains(position) { out.append((position, FoldIssue(line: line, eventID: id, message: message))) }
                }
            } catch {
                noteDamage(error)
            }
        }
        return out
    }
}

extension IndexImage {
    /// The persisted map at exactly `position` (nil at 0: the empty map).
    func mapAt(_ position: Int) -> MapRecord? {
        guard position > 0 else { return nil }
        let i = mapPositions.lowerBound(position)
        return i < maps.count && maps[i].position == position ? maps[i] : nil
    }

    /// The documents after the events at `positions` (any order), each block inflated once:
    /// what reading a whole state costs is the blocks its documents are in, not one per document.
    func documentTexts(after positions: [Int]) -> [ArraySlice<UInt8>?] {
        var out = [ArraySlice<UInt8>?](repeating: nil, count: positions.count)
        let order = positions.indices.sorted { positions[$0] < positions[$1] }
        var i = 0
        while i < order.count {
            let p = positions[order[i]]
            guard p >= 0, p < count else { i += 1; continue }
            let s = segment(of: p)
            let b = (p - footers[s].first) / layout.docBlockEvents
            let blockStart = footers[s].first + b * layout.docBlockEvents
            let f = footers[s]
            guard b < f.docBlocks.count, let compressed = record(f.docBlocks[b], "a document block"),
                  let raw = blockCache[s << 24 | b] ?? Compression.inflate(compressed, rawLength: f.rawLengths[b]) else {
                noteDamage(IndexDamage("a document block does not inflate"))
                return out
            }
            let n = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
            let text = 4 * (n + 2)
            while i < order.count, positions[order[i]] >= blockStart, positions[order[i]] < blockStart + n {
                let k = positions[order[i]] - blockStart
                raw.withUnsafeBytes { r in
                    let a = Int(UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * (k + 1), as: UInt32.self)))
                    let e = Int(UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * (k + 2), as: UInt32.self)))
                    if a < e, text + e <= raw.count { out[order[i]] = raw[(text + a)..<(text + e)] }
                }
                if out[order[i]]?.first == IndexFormat.deltaEntry { out[order[i]] = documentText(after: positions[order[i]]) }
                i += 1
            }
            if i < order.count, positions[order[i]] == p { i += 1 }  // a malformed block: move on
        }
        return out
    }
}

extension IndexImage {
    /// Checks every record of the commit against its checksum: each chunk, document block, name
    /// table, issue list and the sorted list, and every node of every persisted map (each once).
    /// What `rewind verify` runs before it replays.
    public func verifyAllRecords() throws {
        for (s, f) in footers.enumerated() {
            for c in f.chunks.indices { _ = chunk(segment: s, index: c) }
            for (b, ref) in f.docBlocks.enumerated() {
                guard let compressed = record(ref, "a document block") else { break }
                if Compression.inflate(compressed, rawLength: f.rawLengths[b]) == nil { noteDamage(IndexDamage("a document block does not inflate")) }
            }
            if f.streamCount > 0, var p = paged(f.names, "a stream name table") { _ = check(&p, 0..<p.bytes.count, "a stream name table") }
            if f.issues.length > 0 { _ = record(f.issues, "the fold's issues") }
            try check()
        }
        if sortedCount > 0, var p = paged(directory.sorted, "the sorted stream list") { _ = check(&p, 0..<p.bytes.count, "the sorted stream list") }
        var seen = Set<UInt32>()
        func walk(_ ref: UInt32, shift: Int) {
            guard ref != 0, seen.insert(ref).inserted else { return }
            let s = slots(ref)
            guard shift > 0 else { return }
            for i in 0..<32 { walk(s[i], shift: shift - VersionMap.bits) }
        }
        for m in maps + days.map(\.map) { walk(m.root, shift: m.shift) }
        try check()
    }
}
