/// The timeline index file: what it holds and how its records are laid out (docs/ARCHITECTURE.md
/// describes the same). All integers are little-endian; every record carries a checksum, kept
/// by the record that points to it.
///
///     header      4 096 bytes: magic, format version, two root slots (LMDB-style: a writer
///                 fills the older slot, so a torn write leaves the other one whole)
///     records     appended after the header and never changed in place:
///                   node        32 × UInt32 slots + UInt32 check (a trie node of `VersionMap`)
///                   chunk       up to 4 096 events: stream ids, previous versions, lines,
///                               timestamps, flags
///                   doc block   256 events' documents after them, zlib-compressed: each the
///                               document's canonical text, or (a large document) 0x01 and
///                               the event's change (`DocumentChange`) to the one before
///                   names       the (service, stream) names of the streams a segment added
///                   issues      the ops the fold skipped, with their events
///                   sorted      stream ids in (service, stream) byte order
///                   footer      one per segment: where its records are, with their checksums
///                   directory   the index as of one commit: identity, head, segments, sorted
///
/// A segment is one stretch of events [first, first + count), built in one go. Building more
/// (the log grew) appends segments and a new directory, then points a root slot at it.
public enum IndexFormat {
    public static let magic: [UInt8] = Array("RWINDEX\u{0}".utf8)
    /// Bump when the meaning of any record changes: an older file is then rebuilt.
    public static let version: UInt32 = 5
    public static let headerSize = 4096
    public static let slotOffsets = [64, 128]
    public static let slotSize = 48


    /// A chunk per event: stream, previous version, line (UInt32 each), ts (Int64), flags.
    static let chunkBytesPerEvent = 21

    static let nodeWords = 33
    static let nodeBytes = nodeWords * 4

    static let footerMagic: UInt32 = 0x4753_5752  // "RWSG"
    static let directoryMagic: UInt32 = 0x5244_5752  // "RWDR"

    /// Flags of an event in a chunk.
    static let hasDocument: UInt8 = 1
    static let irreversible: UInt8 = 2

    /// The first byte of a document entry that holds the event's change, not the document
    /// (no JSON text starts with it).
    static let deltaEntry: UInt8 = 1

    /// The check word of a node at `ref`: its slots' hash mixed with where it lives, so a node
    /// copied to the wrong place is as damaged as one with a flipped byte.
    @inline(__always) static func nodeCheck(_ slots: UnsafePointer<UInt32>, ref: UInt32) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (UInt64(ref) &* 0x9E37_79B9_7F4A_7C15)
        let words = UnsafeRawPointer(slots)
        for i in 0..<16 {
            h = (h ^ words.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x0000_0100_0000_01b3
            h ^= h >> 29
        }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}

/// The sizes of an index's stretches (recorded in its directory; tests use small ones so that
/// a few hundred events cross every boundary).
public struct IndexLayout: Sendable, Equatable {
    /// Events per chunk, and between keyframes.
    public var keyframeInterval: Int
    /// Events per document block.
    public var docBlockEvents: Int
    /// Events per segment when a build runs long (each segment ends with a commit).
    public var segmentEvents: Int
    /// A document whose whole text last took at least this many bytes is kept, after the
    /// events that follow, as each event's change (`DocumentChange`) rather than whole.
    public var deltaFrom: Int

    public init(keyframeInterval: Int, docBlockEvents: Int, segmentEvents: Int, deltaFrom: Int = 2048) {
        precondition(keyframeInterval > 0 && docBlockEvents > 0 && segmentEvents > 0 && deltaFrom > 0)
        self.keyframeInterval = keyframeInterval
        self.docBlockEvents = docBlockEvents
        self.segmentEvents = segmentEvents
        self.deltaFrom = deltaFrom
    }

    /// Keyframes every 4 096 events (measured: 1 024 → 64 B/event, diff p99 317 µs; 4 096 → 33
    /// B/event, 415 µs; 16 384 → 14 B/event, 684 µs), 256 documents per block, commits every
    /// 65 536 events; documents of 2 kB and more kept as changes.
    public static let standard = IndexLayout(keyframeInterval: 4096, docBlockEvents: 256, segmentEvents: 65_536)
}

/// What an index was built from: if any of it differs from the store and rules at hand, the
/// index does not describe them and is rebuilt.
public struct IndexIdentity: Sendable, Equatable {
    /// The store's identity (it changes whenever the store's timeline is rewritten, not appended to).
    public var store: String
    /// The rules fingerprint of the fold.
    public var rules: String
    public init(store: String, rules: String) {
        self.store = store
        self.rules = rules
    }
}

/// One root slot of the header.
struct RootSlot: Equatable {
    var generation: UInt64
    var directoryOffset: UInt64
    var directoryLength: UInt64
    /// The file's committed length: records beyond it belong to no commit (an interrupted build).
    var fileLength: UInt64

    func encoded(slot: Int) -> [UInt8] {
        var w = ByteWriter(capacity: IndexFormat.slotSize)
        w.u64(generation)
        w.u64(directoryOffset)
        w.u64(directoryLength)
        w.u64(fileLength)
        w.u64(0)
        w.u64(ContentHash.of(w.bytes) ^ UInt64(slot))
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, slot: Int) -> RootSlot? {
        guard bytes.count >= IndexFormat.slotSize else { return nil }
        var r = ByteReader(bytes, what: "a root slot")
        guard let g = try? r.u64(), let o = try? r.u64(), let l = try? r.u64(), let f = try? r.u64(), (try? r.u64()) != nil,
              let check = try? r.u64() else { return nil }
        guard check == ContentHash.of(UnsafeRawBufferPointer(rebasing: bytes[0..<40])) ^ UInt64(slot), g > 0 else { return nil }
        return RootSlot(generation: g, directoryOffset: o, directoryLength: l, fileLength: f)
    }

    static func header(slots: [RootSlot?]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: IndexFormat.headerSize)
        bytes.replaceSubrange(0..<8, with: IndexFormat.magic)
        withUnsafeBytes(of: IndexFormat.version.littleEndian) { bytes.replaceSubrange(8..<12, with: $0) }
        for (i, s) in slots.enumerated() {
            if let s { bytes.replaceSubrange(IndexFormat.slotOffsets[i]..<(IndexFormat.slotOffsets[i] + IndexFormat.slotSize), with: s.encoded(slot: i)) }
        }
        return bytes
    }
}

/// A keyframe (or any persisted map): its root and sizes.
struct MapRecord: Equatable {
    var position: Int
    var root: UInt32
    var shift: Int
    var count: Int
    var existing: Int
}

/// A whole UTC day: its events and the map at its end; `watermark` is the file's end (in node
/// references) when the day began, so the day's changed nodes are those at or past it.
struct DayRecord: Equatable {
    var day: Int64
    var first: Int
    var end: Int
    var map: MapRecord
    var watermark: UInt32
}

/// The UTC day the last event of a stretch fell on, not yet closed by an event of a later day.
struct OpenDay: Equatable {
    var day: Int64
    var first: Int
    var watermark: UInt32

    static func write(_ d: OpenDay?, _ w: inout ByteWriter) {
        guard let d else { w.u8(0); return }
        w.u8(1)
        w.i64(d.day)
        w.u64(UInt64(d.first))
        w.u32(d.watermark)
    }

    static func read(_ r: inout ByteReader) throws(IndexDamage) -> OpenDay? {
        guard try r.u8() == 1 else { return nil }
        return OpenDay(day: try r.i64(), first: try r.int(limit: UInt64(UInt32.max)), watermark: try r.u32())
    }
}

/// A record checked page by page (16 KB each): what a lookup reads of a large record — a name
/// table, the sorted list — is checked without hashing the rest.
struct PagedRef: Equatable {
    static let pageSize = 16_384
    var offset: UInt64
    var length: Int
    var pages: [UInt64]
    static let none = PagedRef(offset: 0, length: 0, pages: [])

    static func of(_ bytes: [UInt8], at offset: UInt64) -> PagedRef {
        let pages = stride(from: 0, to: bytes.count, by: pageSize).map { start in
            bytes.withUnsafeBytes { ContentHash.of(UnsafeRawBufferPointer(rebasing: $0[start..<min(bytes.count, start + pageSize)])) }
        }
        return PagedRef(offset: offset, length: bytes.count, pages: pages)
    }

    func write(_ w: inout ByteWriter) {
        w.u64(offset)
        w.u32(UInt32(length))
        w.u32(UInt32(pages.count))
        for p in pages { w.u64(p) }
    }

    static func read(_ r: inout ByteReader) throws(IndexDamage) -> PagedRef {
        let offset = try r.u64(), length = Int(try r.u32())
        var pages: [UInt64] = []
        for _ in 0..<(try r.count(of: 8)) { pages.append(try r.u64()) }
        guard pages.count == (length + pageSize - 1) / pageSize else { throw IndexDamage("\(r.what) has a paged record of the wrong size") }
        return PagedRef(offset: offset, length: length, pages: pages)
    }
}

/// Where one record is, and its checksum.
struct RecordRef: Equatable {
    var offset: UInt64
    var length: Int
    var checksum: UInt64
    static let none = RecordRef(offset: 0, length: 0, checksum: 0)
}

/// One segment: the records of the events [first, first + count) and the streams it added.
struct SegmentFooter: Equatable {
    var first: Int
    var count: Int
    var firstStream: Int
    var streamCount: Int
    var chunks: [RecordRef]
    /// Compressed document blocks; `rawLengths[i]` is block i's size inflated.
    var docBlocks: [RecordRef]
    var rawLengths: [Int]
    var keyframes: [MapRecord]
    var days: [DayRecord]
    var names: PagedRef
    var issues: RecordRef
    /// The day still open at the segment's end.
    var openDay: OpenDay?
    /// Bytes the segment's records take in the file, its footer included.
    var size: Int

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + chunks.count * 20 + docBlocks.count * 24 + keyframes.count * 28)
        w.u32(IndexFormat.footerMagic)
        w.u64(UInt64(first))
        w.u64(UInt64(count))
        w.u32(UInt32(firstStream))
        w.u32(UInt32(streamCount))
        w.u32(UInt32(chunks.count))
        for c in chunks { SegmentFooter.write(c, &w) }
        w.u32(UInt32(docBlocks.count))
        for (b, raw) in zip(docBlocks, rawLengths) {
            SegmentFooter.write(b, &w)
            w.u32(UInt32(raw))
        }
        w.u32(UInt32(keyframes.count))
        for k in keyframes { SegmentFooter.write(k, &w) }
        w.u32(UInt32(days.count))
        for d in days {
            w.i64(d.day)
            w.u64(UInt64(d.first))
            w.u64(UInt64(d.end))
            SegmentFooter.write(d.map, &w)
            w.u32(d.watermark)
        }
        names.write(&w)
        SegmentFooter.write(issues, &w)
        OpenDay.write(openDay, &w)
        w.u64(UInt64(size))
        return w.bytes
    }

    static func write(_ r: RecordRef, _ w: inout ByteWriter) {
        w.u64(r.offset)
        w.u32(UInt32(r.length))
        w.u64(r.checksum)
    }

    static func write(_ m: MapRecord, _ w: inout ByteWriter) {
        w.u64(UInt64(m.position))
        w.u32(m.root)
        w.u32(UInt32(m.shift))
        w.u32(UInt32(m.count))
        w.u32(UInt32(m.existing))
    }

    static func readRef(_ r: inout ByteReader) throws(IndexDamage) -> RecordRef {
        RecordRef(offset: try r.u64(), length: Int(try r.u32()), checksum: try r.u64())
    }

    static func readMap(_ r: inout ByteReader) throws(IndexDamage) -> MapRecord {
        let position = try r.int(limit: UInt64(UInt32.max))
        let root = try r.u32()
        let shift = Int(try r.u32())
        guard shift % VersionMap.bits == 0, shift <= 30 else { throw IndexDamage("\(r.what) has an impossible map") }
        return MapRecord(position: position, root: root, shift: shift, count: Int(try r.u32()), existing: Int(try r.u32()))
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, layout: IndexLayout) throws(IndexDamage) -> SegmentFooter {
        var r = ByteReader(bytes, what: "a segment footer")
        guard try r.u32() == IndexFormat.footerMagic else { throw IndexDamage("a segment footer has the wrong magic") }
        let first = try r.int(limit: UInt64(UInt32.max)), count = try r.int(limit: UInt64(UInt32.max))
        let firstStream = Int(try r.u32()), streamCount = Int(try r.u32())
        var chunks: [RecordRef] = []
        for _ in 0..<(try r.count(of: 20)) { chunks.append(try readRef(&r)) }
        var blocks: [RecordRef] = [], raws: [Int] = []
        for _ in 0..<(try r.count(of: 24)) {
            blocks.append(try readRef(&r))
            raws.append(Int(try r.u32()))
        }
        var keyframes: [MapRecord] = []
        for _ in 0..<(try r.count(of: 24)) { keyframes.append(try readMap(&r)) }
        var days: [DayRecord] = []
        for _ in 0..<(try r.count(of: 48)) {
            let day = try r.i64(), f = try r.int(limit: UInt64(UInt32.max)), e = try r.int(limit: UInt64(UInt32.max))
            days.append(DayRecord(day: day, first: f, end: e, map: try readMap(&r), watermark: try r.u32()))
        }
        let footer = SegmentFooter(first: first, count: count, firstStream: firstStream, streamCount: streamCount,
                                   chunks: chunks, docBlocks: blocks, rawLengths: raws, keyframes: keyframes, days: days,
                                   names: try PagedRef.read(&r), issues: try readRef(&r), openDay: try OpenDay.read(&r),
                                   size: try r.int(limit: UInt64(Int64.max)))
        let k = layout.keyframeInterval, b = layout.docBlockEvents
        guard chunks.count == (count + k - 1) / k, blocks.count == (count + b - 1) / b else {
            throw IndexDamage("a segment footer does not match its event count")
        }
        return footer
    }
}

/// The index as of one commit.
struct IndexDirectory: Equatable {
    var identity: IndexIdentity
    var layout: IndexLayout
    /// The id of the last event the index covers (checked against the store on open).
    var lastEventID: [UInt8]
    var count: Int
    var streams: Int
    var head: MapRecord
    /// The day still open at the head.
    var openDay: OpenDay?
    /// Bytes the directory's records take (the rest of the file is garbage of earlier commits).
    var liveBytes: UInt64
    var segments: [RecordRef]
    var sorted: PagedRef
    var sortedCount: Int

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 256 + segments.count * 20)
        w.u32(IndexFormat.directoryMagic)
        w.u32(IndexFormat.version)
        w.blob(Array(identity.store.utf8))
        w.blob(Array(identity.rules.utf8))
        w.blob(lastEventID)
        w.u32(UInt32(layout.keyframeInterval))
        w.u32(UInt32(layout.docBlockEvents))
        w.u32(UInt32(layout.segmentEvents))
        w.u32(UInt32(layout.deltaFrom))
        w.u64(UInt64(count))
        w.u32(UInt32(streams))
        SegmentFooter.write(head, &w)
        OpenDay.write(openDay, &w)
        w.u64(liveBytes)
        w.u32(UInt32(segments.count))
        for s in segments { SegmentFooter.write(s, &w) }
        sorted.write(&w)
        w.u32(UInt32(sortedCount))
        w.u64(ContentHash.of(w.bytes))
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(IndexDamage) -> IndexDirectory {
        guard bytes.count >= 8 else { throw IndexDamage("the directory is cut short") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 8)])
        guard bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self) == ContentHash.of(body).littleEndian else {
            throw IndexDamage("the directory's checksum does not match")
        }
        var r = ByteReader(body, what: "the directory")
        guard try r.u32() == IndexFormat.directoryMagic else { throw IndexDamage("the directory has the wrong magic") }
        guard try r.u32() == IndexFormat.version else { throw IndexDamage("the directory is of another format version") }
        let store = String(decoding: try r.blob(), as: UTF8.self), rules = String(decoding: try r.blob(), as: UTF8.self)
        let last = try r.blob()
        let k = Int(try r.u32()), b = Int(try r.u32()), g = Int(try r.u32()), d = Int(try r.u32())
        guard k > 0, b > 0, g > 0, d > 0 else { throw IndexDamage("the directory has impossible block sizes") }
        let layout = IndexLayout(keyframeInterval: k, docBlockEvents: b, segmentEvents: g, deltaFrom: d)
        let count = try r.int(limit: UInt64(UInt32.max)), streams = Int(try r.u32())
        let head = try SegmentFooter.readMap(&r)
        let open = try OpenDay.read(&r)
        let live = try r.u64()
        var segments: [RecordRef] = []
        for _ in 0..<(try r.count(of: 20)) { segments.append(try SegmentFooter.readRef(&r)) }
        let sorted = try PagedRef.read(&r)
        let sortedCount = Int(try r.u32())
        return IndexDirectory(identity: IndexIdentity(store: store, rules: rules), layout: layout, lastEventID: last, count: count, streams: streams,
                              head: head, openDay: open, liveBytes: live, segments: segments, sorted: sorted, sortedCount: sortedCount)
    }
}

/// The header of an index file, for the outputs that write one.
public enum IndexHeader {
    /// A header with no commit yet.
    public static func initial() -> [UInt8] { RootSlot.header(slots: [nil, nil]) }

    /// The slot a commit of `generation` writes (generations alternate slots, so the one before
    /// stays whole while this one is written), and its bytes.
    public static func rootSlot(generation: UInt64, directoryOffset: UInt64, length: Int, fileLength: UInt64) -> (offset: Int, bytes: [UInt8]) {
        let i = Int(generation % 2)
        let slot = RootSlot(generation: generation, directoryOffset: directoryOffset, directoryLength: UInt64(length), fileLength: fileLength)
        return (IndexFormat.slotOffsets[i], slot.encoded(slot: i))
    }

    /// The newest whole commit a header holds: its generation and the file length it covers
    /// (nil: none, or not an index header).
    public static func committed(_ header: UnsafeRawBufferPointer) -> (generation: UInt64, fileLength: UInt64)? {
        guard header.count >= IndexFormat.headerSize, Array(header[0..<8]) == IndexFormat.magic,
              header.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == IndexFormat.version.littleEndian else { return nil }
        let slots = IndexFormat.slotOffsets.enumerated().compactMap { i, o in
            RootSlot.decode(UnsafeRawBufferPointer(rebasing: header[o..<(o + IndexFormat.slotSize)]), slot: i)
        }
        return slots.max { $0.generation < $1.generation }.map { ($0.generation, $0.fileLength) }
    }
}
