/// One cached state as a store keeps it: the state after the first `position` events, written
/// as its differences from the keyframe at the multiple of the keyframe interval before it (stream id, version
/// pairs) — what it costs beyond the index, a few KB where the whole state is megabytes.
public struct CachedStateRow: Sendable, Equatable {
    public var position: Int
    /// The rules fingerprint it was computed under.
    public var rules: String
    /// `IndexFormat.version` when it was written.
    public var version: Int
    /// The id of the event at `position - 1` ("" at 0): a timeline that changed before the
    /// position no longer matches, and the row is dropped.
    public var lastEventID: String
    public var changes: [UInt8]
    /// `ContentHash` of every column above: a flipped byte anywhere in the row is damage.
    public var hash: String

    public init(position: Int, rules: String, version: Int, lastEventID: String, changes: [UInt8], hash: String? = nil) {
        self.position = position
        self.rules = rules
        self.version = version
        self.lastEventID = lastEventID
        self.changes = changes
        self.hash = hash ?? ""
        if hash == nil { self.hash = computedHash }
    }

    public var computedHash: String {
        var h = ContentHash()
        var header = ByteWriter()
        header.i64(Int64(position))
        header.blob(Array(rules.utf8))
        header.i64(Int64(version))
        header.blob(Array(lastEventID.utf8))
        h.update(header.bytes)
        h.update(changes)
        return h.hex
    }

    public var isIntact: Bool { hash == computedHash }
}

/// Where the cache strategy keeps its states across processes (a table of the store).
public protocol CachedStateStore: AnyObject {
    /// Every row, whatever its rules (the cache tells damaged, foreign and stale rows apart).
    func loadCachedStates() throws -> [CachedStateRow]
    func saveCachedState(_ row: CachedStateRow) throws
    func removeCachedStates(at positions: [Int]) throws
}

/// The cache strategy's states: the nearest one at or before T, then the diffs after it. States
/// are kept in memory as their rows — their differences from the keyframe before them, a few KB
/// each, where a decoded map copies a node per changed leaf (megabytes at 10M streams) — while they
/// fit in `budget` bytes (the least recently used goes first), decoded when used, and written
/// through to a `CachedStateStore`, so the next process reads them back. A row whose
/// hash does not match is damaged: reported in `damaged`, removed, never served. Rows of other
/// rules are counted in `foreign` and left alone; rows whose timeline changed are dropped.
/// One thread at a time.
public final class IndexCache {
    public let index: TimelineIndex
    public let rules: String
    public let budget: Int
    let store: CachedStateStore?
    let eventID: (Int) throws -> String
    private var positions: [Int] = []
    private var entries: [Int: Entry] = [:]
    private var lastUse: [Int: Int] = [:]
    private var clock = 0
    public private(set) var bytes = 0
    public private(set) var evictions = 0
    /// Positions of persisted rows found damaged (and removed).
    public private(set) var damaged: [Int] = []
    /// Rows written under other rules or formats.
    public private(set) var foreign = 0
    /// Rows dropped because the timeline changed before their position.
    public private(set) var stale = 0
    private var loaded = false

    typealias Entry = CachedStateRow
    /// The states decoded last (a query near the one before reuses its state).
    private var decoded: [(position: Int, versions: VersionMap)] = []

    /// `eventID(p)`: the id of the event at position `p` (the store's).
    public init(index: TimelineIndex, rules: String, budget: Int = 384 << 20, store: CachedStateStore? = nil,
                eventID: @escaping (Int) throws -> String) {
        self.index = index
        self.rules = rules
        self.budget = budget
        self.store = store
        self.eventID = eventID
    }

    public var cachedPositions: [Int] {
        loadIfNeeded()
        return positions
    }

    func lastID(before position: Int) -> String? {
        position == 0 ? "" : try? eventID(position - 1)
    }

    /// Reads the states earlier processes kept (once).
    func loadIfNeeded() {
        guard !loaded else { return }
        loaded = true
        guard let store, let rows = try? store.loadCachedStates() else { return }
        var bad: [Int] = [], dropped: [Int] = []
        for row in rows {
            guard row.isIntact else { bad.append(row.position); continue }
            guard row.rules == rules, row.version == Int(IndexFormat.version) else { foreign += 1; continue }
            guard row.position <= index.count, lastID(before: row.position) == row.lastEventID else {
                dropped.append(row.position)
                continue
            }
            insert(row, at: row.position)
        }
        if !bad.isEmpty {
            damaged += bad
            try? store.removeCachedStates(at: bad)
        }
        if !dropped.isEmpty {
            stale += dropped.count
            try? store.removeCachedStates(at: dropped)
        }
    }

    private func insert(_ entry: Entry, at position: Int) {
        if let old = entries[position] {
            bytes -= cost(old)
        } else {
            positions.insert(position, at: positions.lowerBound(position))
        }
        entries[position] = entry
        bytes += cost(entry)
        clock += 1
        lastUse[position] = clock
        var evicted: [Int] = []
        while bytes > budget && positions.count > 1 {
            let oldest = lastUse.min { $0.value < $1.value }!.key
            remove(oldest)
            evicted.append(oldest)
            evictions += 1
        }
        if !evicted.isEmpty { try? store?.removeCachedStates(at: evicted) }
    }

    private func remove(_ position: Int) {
        if let e = entries.removeValue(forKey: position) { bytes -= cost(e) }
        lastUse.removeValue(forKey: position)
        positions.remove(at: positions.lowerBound(position))
        decoded.removeAll { $0.position == position }
    }

    /// What a state costs in memory: its row's changes and the row itself.
    private func cost(_ e: Entry) -> Int { e.changes.count + 96 + e.rules.utf8.count + e.lastEventID.utf8.count }

    /// The state cached at `position`, decoded from its row; nil (and the row removed) when the
    /// row is damaged.
    public func cached(at position: Int) -> VersionMap? {
        loadIfNeeded()
        guard let row = entries[position] else { return nil }
        clock += 1
        lastUse[position] = clock
        if let d = decoded.first(where: { $0.position == position }) { return d.versions }
        guard let versions = decode(row) else {
            damaged.append(position)
            remove(position)
            try? store?.removeCachedStates(at: [position])
            return nil
        }
        decoded.append((position, versions))
        if decoded.count > 4 { decoded.removeFirst() }
        return versions
    }

    /// Keeps the state after the first `position` events (`versions`), and writes it through.
    public func keep(_ versions: VersionMap, at position: Int) {
        loadIfNeeded()
        // A state reached through a damaged read is never kept (it would be served next time).
        guard index.image.damage == nil, let row = encode(versions, at: position), index.image.damage == nil else { return }
        insert(row, at: position)
        if let store { try? store.saveCachedState(row) }
    }

    /// cache: the nearest cached state at or before `position`, then the diffs after it. With
    /// `keep`, the state reached is cached in turn when it took any events to reach.
    public func reach(_ position: Int, keep: Bool = false) -> Reach {
        loadIfNeeded()
        let position = index.clamp(position)
        var start = 0
        var versions = index.empty
        while case let i = positions.lowerBound(position + 1) - 1, i >= 0 {
            if let found = cached(at: positions[i]) {
                start = positions[i]
                versions = found
                break
            }  // else the row was damaged and is gone: the one before it is next
        }
        index.apply(start..<position, backward: false, to: &versions)
        if keep && position > start { self.keep(versions, at: position) }
        return Reach(position: position, versions: versions, applied: position - start, bytesRead: index.touched(position - start, versions))
    }

    // MARK: rows

    func keyframe(before position: Int) -> (Int, VersionMap) {
        let k = position / index.image.layout.keyframeInterval * index.image.layout.keyframeInterval
        guard k > 0, let m = index.image.mapAt(k) else { return (0, index.empty) }
        return (k, index.image.map(m))
    }

    /// The state as its differences from the keyframe before it (nil: the id of the event
    /// before it cannot be read).
    public func encode(_ versions: VersionMap, at position: Int) -> CachedStateRow? {
        guard let last = lastID(before: position) else { return nil }
        let (k, base) = keyframe(before: position)
        var touched = Set<UInt32>()
        index.image.forEachChunk(in: k..<position) { c, r in for i in r { touched.insert(c.streams[i]) } }
        var w = ByteWriter(capacity: touched.count * 8)
        for id in touched.sorted() where versions.value(id) != base.value(id) {
            w.u32(id)
            w.u32(versions.value(id))
        }
        return CachedStateRow(position: position, rules: rules, version: Int(IndexFormat.version),
                              lastEventID: last, changes: w.bytes)
    }

    /// The state a row stands for; nil when the row is damaged or does not fit this index.
    public func decode(_ row: CachedStateRow) -> VersionMap? {
        guard row.isIntact, row.changes.count % 8 == 0, row.position <= index.count else { return nil }
        var (_, versions) = keyframe(before: row.position)
        var keys: [UInt32] = [], values: [UInt32] = []
        row.changes.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 8) {
                keys.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                values.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)))
            }
        }
        // Ids ascending, known streams, each version an event of that stream before the position.
        for (i, (id, version)) in zip(keys, values).enumerated() {
            guard Int(id) < index.streamCount, i == 0 || keys[i - 1] < id else { return nil }
            if version != 0 {
                guard let last = StreamVersion.lastEvent(version), last < row.position else { return nil }
                let e = index.image.event(last)
                guard e.stream == id, index.versionAfter(last, flags: e.flags) == version else { return nil }
            }
        }
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in versions.set(sortedKeys: k, values: v) } }
        return index.image.damage == nil ? versions : nil
    }
}
