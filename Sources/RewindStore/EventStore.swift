import RewindCore

/// Where an import stands: enough to tell an unchanged, grown or rewritten source file apart
/// and to resume an interrupted import exactly where its last commit ended.
public struct ImportCheckpoint: Sendable, Equatable {
    public var sourcePath: String
    public var sourceSize: Int64
    public var sourceModified: Int64
    public var sourceInode: Int64
    /// Bytes of the source consumed through the last newline-terminated line.
    public var offset: Int64
    /// Physical lines consumed through `offset`.
    public var line: Int
    /// Running hash of the first `offset` bytes.
    public var hash: ContentHash
    /// Bytes of the quarantine file at `offset`.
    public var quarantineLength: Int64
    /// Latest accepted timestamp through `offset`.
    public var latest: Timestamp?
    /// Whether the accepted events through `offset` came in timeline order (no backwards ts).
    public var sorted: Bool
    public var blankLines: Int
    /// An unterminated final line (number `line + 1`) was imported beyond `offset`.
    public var tail: Bool
    /// The import reached the end of the file.
    public var complete: Bool
    /// The source's format (`jsonl`, `kcat`, `debezium`).
    public var format: String = "jsonl"

    public init(sourcePath: String, sourceSize: Int64 = 0, sourceModified: Int64 = 0, sourceInode: Int64 = 0,
                offset: Int64 = 0, line: Int = 0, hash: ContentHash = ContentHash(), quarantineLength: Int64 = 0,
                latest: Timestamp? = nil, sorted: Bool = true, blankLines: Int = 0, tail: Bool = false, complete: Bool = false) {
        self.sourcePath = sourcePath
        self.sourceSize = sourceSize
        self.sourceModified = sourceModified
        self.sourceInode = sourceInode
        self.offset = offset
        self.line = line
        self.hash = hash
        self.quarantineLength = quarantineLength
        self.latest = latest
        self.sorted = sorted
        self.blankLines = blankLines
        self.tail = tail
        self.complete = complete
    }
}

/// One accepted line, ready to store. Text fields are byte ranges of the batch's `arena`
/// (UTF-8; the JSON fields exactly as written in the line), so a batch is one allocation
/// and the store can bind them without copying. Streams and types are numbered (the batch's
/// `newStreams` / `newTypes` name the new ones).
public struct StoredEventRow: Sendable {
    public var line: Int
    public var ts: Timestamp
    public var id: Range<Int>
    public var streamID: UInt32
    public var typeID: UInt32
    /// The ts as written.
    public var tsRaw: Range<Int>
    /// It was written as its own RFC 3339 form (the store then does not keep it twice).
    public var tsCanonical: Bool
    public var data: Range<Int>?
    public var meta: Range<Int>?
    public var extra: Range<Int>?
}

/// What an import batch adds, committed atomically with its checkpoint.
public struct ImportBatch: Sendable {
    /// The bytes the rows' JSON ranges point into.
    public var arena: [UInt8] = []
    public var events: [StoredEventRow] = []
    public var duplicates: [(line: Int, id: String, firstLine: Int)] = []
    public var rejected: [(line: Int, reason: String)] = []
    public var backwards: [(line: Int, ts: Timestamp, latest: Timestamp)] = []
    /// Streams and types first seen in this batch, with the numbers its rows use.
    public var newStreams: [(id: UInt32, service: String, stream: String)] = []
    public var newTypes: [(id: UInt32, name: String)] = []
    public init() {}
    public var isEmpty: Bool { events.isEmpty && duplicates.isEmpty && rejected.isEmpty && backwards.isEmpty }
    public var lineCount: Int { events.count + duplicates.count + rejected.count }

    /// Copies `bytes` into the arena and returns their range there.
    public mutating func store(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        let start = arena.count
        arena.append(contentsOf: bytes)
        return start..<arena.count
    }

    public mutating func store(_ text: String) -> Range<Int> {
        var text = text
        return text.withUTF8 { store($0) }
    }

    /// Adds an event whose JSON fields are given as text (its stream and type numbered by `registry`).
    public mutating func addEvent(line: Int, ts: Timestamp, id: String, service: String, stream: String, type: String,
                                  tsRaw: String, data: String?, meta: String? = nil, extra: String? = nil,
                                  registry: inout NameRegistry) {
        let sid = registry.stream(service: service, stream: stream, batch: &self)
        let tid = registry.type(type, batch: &self)
        let i = store(id)
        var canonical: [UInt8] = []
        ts.writeQuotedRFC3339(to: &canonical)
        let r = store(tsRaw)
        let d = data.map { store($0) }
        let m = meta.map { store($0) }
        let x = extra.map { store($0) }
        events.append(StoredEventRow(line: line, ts: ts, id: i, streamID: sid, typeID: tid, tsRaw: r,
                                     tsCanonical: Array(tsRaw.utf8) == canonical, data: d, meta: m, extra: x))
    }
}

/// Numbers streams and types as an import meets them (ids dense, in order of first sight).
/// Names are compared as bytes. An open-addressing table of ids, placed by a 64-bit hash of the
/// names' bytes and checked against the names themselves: no key is built per lookup (the
/// dictionary of byte arrays this replaced allocated one per line, ~7% of the import's parsing thread).
public struct NameRegistry: Sendable {
    /// A table of (first name, second name) pairs: streams are (service, stream), types (type, "").
    struct Table: Sendable {
        private(set) var names: [(String, String)] = []
        private var hashes: [UInt64] = []
        private var slots = [UInt32](repeating: 0, count: 1024)  // id + 1; 0 = empty

        static func hash(_ a: String, _ b: String) -> UInt64 {
            var h = ContentHash()
            var a = a, b = b
            a.withUTF8 { h.update($0) }
            var separator: UInt8 = 0xFF  // no UTF-8 byte: ("ab", "c") and ("a", "bc") differ
            withUnsafeBytes(of: &separator) { h.update($0.bindMemory(to: UInt8.self)) }
            b.withUTF8 { h.update($0) }
            return h.digest
        }

        /// The id of (a, b), or nil; `h` its hash.
        func find(_ a: String, _ b: String, _ h: UInt64) -> UInt32? {
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] != 0 {
                let id = Int(slots[i] - 1)
                if hashes[id] == h, names[id].0.sameCodePoints(a), names[id].1.sameCodePoints(b) { return UInt32(id) }
                i = (i + 1) & mask
            }
            return nil
        }

        mutating func add(_ a: String, _ b: String, _ h: UInt64) -> UInt32 {
            let id = UInt32(names.count)
            names.append((a, b))
            hashes.append(h)
            if names.count * 4 > slots.count * 3 {
                slots = [UInt32](repeating: 0, count: slots.count * 2)
                for (k, hk) in hashes.enumerated() { place(UInt32(k), hk) }
            } else {
                place(id, h)
            }
            return id
        }

        private mutating func place(_ id: UInt32, _ h: UInt64) {
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = id + 1
        }

        mutating func reserve(_ n: Int) {
            var size = slots.count
            while size * 3 < n * 4 { size *= 2 }
            guard size > slots.count else { return }
            slots = [UInt32](repeating: 0, count: size)
            for (k, hk) in hashes.enumerated() { place(UInt32(k), hk) }
            names.reserveCapacity(n)
            hashes.reserveCapacity(n)
        }
    }

    private var streams = Table()
    private var types = Table()
    public var streamCount: Int { streams.names.count }
    public var typeCount: Int { types.names.count }

    public init() {}

    /// Resumes numbering after the names a store already has.
    public init(streams names: [(service: String, stream: String)], types typeNames: [String]) {
        streams.reserve(names.count)
        for (s, t) in names { _ = streams.add(s, t, Table.hash(s, t)) }
        for t in typeNames { _ = types.add(t, "", Table.hash(t, "")) }
    }

    public mutating func reserveCapacity(_ n: Int) { streams.reserve(streamCount + n) }

    public mutating func stream(service: String, stream: String, batch: inout ImportBatch) -> UInt32 {
        let h = Table.hash(service, stream)
        if let id = streams.find(service, stream, h) { return id }
        let id = streams.add(service, stream, h)
        batch.newStreams.append((id, service, stream))
        return id
    }

    public mutating func type(_ name: String, batch: inout ImportBatch) -> UInt32 {
        let h = Table.hash(name, "")
        if let id = types.find(name, "", h) { return id }
        let id = types.add(name, "", h)
        batch.newTypes.append((id, name))
        return id
    }
}

/// The accounting of everything imported so far.
public struct ImportSummary: Sendable, Equatable {
    public var accepted: Int
    public var duplicates: Int
    public var rejected: Int
    public var blank: Int
    public var backwards: Int
    public var linesRead: Int { accepted + duplicates + rejected }
}

/// A store of an imported log: the timeline (as an `EventSource`, events numbered by stream
/// for the index), the import's bookkeeping, and the cache strategy's states. Every backend
/// passes the same conformance suite.
public protocol EventStore: AnyObject, Sendable, NumberedEventSource, CachedStateStore {
    /// A human-readable location (a path, or a URL without its password).
    var location: String { get }
    /// Where this machine keeps what it derives from the store: the timeline index
    /// (`PATH-index`) and the lock (`PATH-lock`). A store file's own path; for a server, a name
    /// in the cache folder keyed by the server, database and schema.
    var localPath: String { get }
    /// The same while the store only grows; new when its timeline was rewritten.
    func identity() throws -> String
    /// Another opening of the same store (its own connection), for another thread.
    func reopened() throws -> any EventStore
    /// Every stream's and type's name, by id.
    func registry() throws -> (streams: [(service: String, stream: String)], types: [String])

    func checkpoint() throws -> ImportCheckpoint?
    /// Drops every event and all bookkeeping: a full re-import follows.
    func reset() throws
    /// Deletes what lines after `line` added (an interrupted or unterminated tail).
    func discardLines(after line: Int) throws
    /// Adds a batch and records the checkpoint, atomically.
    func append(_ batch: ImportBatch, checkpoint: ImportCheckpoint) throws
    /// Makes positions follow (ts, line) again after out-of-order or discarded rows.
    func restoreTimelineOrder() throws
    /// id → line of every accepted event (to resume de-duplication).
    func acceptedIDs() throws -> [EventID: Int]
    func summary() throws -> ImportSummary
    func duplicateLines(limit: Int) throws -> [(line: Int, id: String, firstLine: Int)]
    func rejectedLines(limit: Int) throws -> [(line: Int, reason: String)]
    func backwardsLines(limit: Int) throws -> [(line: Int, ts: Timestamp, latest: Timestamp)]
    /// Lines with a backwards timestamp, and lines of first deliveries that were delivered again.
    func markedLines() throws -> (backwards: [Int], duplicated: [Int])
    /// Timeline positions of the events `query` matches, ascending, among `range` (all when
    /// nil), at most `limit`. Every value is bound as a parameter, never spliced into a query.
    func search(_ query: EventQuery, in range: Range<Int>?, limit: Int) throws -> [Int]
    /// Cached states of every rules fingerprint.
    func cachedStateCount() throws -> Int
    /// Compaction's rewrite: the events at `positions` (ascending) give way to `rows` (their ids
    /// remembered as accepted), atomically; positions then follow (ts, line) again, under a new
    /// identity.
    func replaceEvents(_ positions: [Int], with rows: [SquashedEvent]) throws
    /// Every row an import writes, as text in a fixed order: equal dumps, equal imports.
    func dump() throws -> String
    /// Keeps a copy of the whole store (before `squash --compact` rewrites it); returns where.
    func backup(stamp: String) throws -> String
    /// Makes way for a rebuild from the log after damage: a file is removed, a server's rows
    /// are deleted (the schema stays).
    func discardForRebuild() throws
}

extension EventStore {
    public func search(_ query: EventQuery) throws -> [Int] { try search(query, in: nil, limit: 1_000_000) }
}
