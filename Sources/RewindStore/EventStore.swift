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
/// Names are compared as bytes.
public struct NameRegistry: Sendable {
    struct Key: Hashable, Sendable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { hasher.combine(ContentHash.of(bytes)) }
    }
    private var streams: [Key: UInt32] = [:]
    private var types: [Key: UInt32] = [:]
    public private(set) var streamCount = 0
    public private(set) var typeCount = 0

    public init() {}

    /// Resumes numbering after the names a store already has.
    public init(streams names: [(service: String, stream: String)], types typeNames: [String]) {
        streams.reserveCapacity(names.count)
        for (s, t) in names { streams[NameRegistry.key(s, t)] = UInt32(streams.count) }
        for t in typeNames { types[Key(bytes: Array(t.utf8))] = UInt32(types.count) }
        streamCount = names.count
        typeCount = typeNames.count
    }

    static func key(_ service: String, _ stream: String) -> Key {
        var b: [UInt8] = []
        b.reserveCapacity(service.utf8.count + stream.utf8.count + 4)
        withUnsafeBytes(of: UInt32(service.utf8.count).littleEndian) { b.append(contentsOf: $0) }
        b.append(contentsOf: service.utf8)
        b.append(contentsOf: stream.utf8)
        return Key(bytes: b)
    }

    public mutating func reserveCapacity(_ n: Int) { streams.reserveCapacity(streams.count + n) }

    public mutating func stream(service: String, stream: String, batch: inout ImportBatch) -> UInt32 {
        let k = NameRegistry.key(service, stream)
        if let id = streams[k] { return id }
        let id = UInt32(streamCount)
        streams[k] = id
        streamCount += 1
        batch.newStreams.append((id, service, stream))
        return id
    }

    public mutating func type(_ name: String, batch: inout ImportBatch) -> UInt32 {
        let k = Key(bytes: Array(name.utf8))
        if let id = types[k] { return id }
        let id = UInt32(typeCount)
        types[k] = id
        typeCount += 1
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
    /// A human-readable location (a path or a URL).
    var location: String { get }
    /// The same while the store only grows; new when its timeline was rewritten.
    func identity() throws -> String
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
    func acceptedIDs() throws -> [String: Int]
    func summary() throws -> ImportSummary
    func duplicateLines(limit: Int) throws -> [(line: Int, id: String, firstLine: Int)]
    func rejectedLines(limit: Int) throws -> [(line: Int, reason: String)]
    func backwardsLines(limit: Int) throws -> [(line: Int, ts: Timestamp, latest: Timestamp)]
}
