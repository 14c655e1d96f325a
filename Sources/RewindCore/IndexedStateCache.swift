/// One cached state as a store keeps it: the state after the first `position` events, written
/// as its differences from the index keyframe before it (stream id, version pairs), which is
/// what it costs beyond the keyframes — a few KB, where the whole state is megabytes.
public struct PersistedCachedState: Sendable, Equatable {
    public var position: Int
    public var keyframeInterval: Int
    public var changes: [UInt8]
    /// `ContentHash` of position, interval and changes: a row whose bytes changed on disk is
    /// detected and never served.
    public var hash: String

    public init(position: Int, keyframeInterval: Int, changes: [UInt8], hash: String) {
        self.position = position
        self.keyframeInterval = keyframeInterval
        self.changes = changes
        self.hash = hash
    }

    public static func hash(position: Int, keyframeInterval: Int, changes: [UInt8]) -> String {
        var h = ContentHash()
        var header = "\(position)/\(keyframeInterval)/"
        header.withUTF8 { h.update($0) }
        changes.withUnsafeBufferPointer { h.update($0) }
        return String(h.digest, radix: 16)
    }

    public var isIntact: Bool { hash == PersistedCachedState.hash(position: position, keyframeInterval: keyframeInterval, changes: changes) }
}

/// Where the cache strategy keeps its states across runs: a table of the store, holding only
/// rows written under the same rules and format (the store filters by them).
public protocol CachedStateStore: AnyObject {
    func loadCachedStates() throws -> [PersistedCachedState]
    func saveCachedState(_ state: PersistedCachedState) throws
    func removeCachedStates(at positions: [Int]) throws
}

/// Hydrated states kept by the cache strategy: the nearest one at or before T, then the diffs
/// after it. States are kept while they fit in `budget` bytes (what each adds to the index's
/// keyframes); the least recently used goes first. With a `CachedStateStore`, every state kept
/// is written through to it and the states of earlier runs are read back on first use; a row
/// whose hash does not match is reported in `damaged`, removed, and never served.
/// One thread at a time (the explorer's or a command's).
public final class IndexedStateCache {
    public let index: TimelineIndex
    public let budget: Int
    let store: CachedStateStore?
    private var positions: [Int] = []
    private var entries: [Int: Entry] = [:]
    private var lastUse: [Int: Int] = [:]
    private var clock = 0
    public private(set) var bytes = 0
    public private(set) var evictions = 0
    /// Positions of persisted rows found damaged (and removed).
    public private(set) var damaged: [Int] = []
    private var loaded = false

    enum Entry {
        case persisted(PersistedCachedState)
        case loaded(VersionMap, bytes: Int)
    }

    public init(index: TimelineIndex, budget: Int = 384 << 20, store: CachedStateStore? = nil) {
        self.index = index
        self.budget = budget
        self.store = store
    }

    public var cachedPositions: [Int] {
        loadIfNeeded()
        return positions
    }

    /// Reads the states an earlier run kept (once).
    func loadIfNeeded() {
        guard !loaded else { return }
        loaded = true
        guard let store, let rows = try? store.loadCachedStates() else { return }
        var bad: [Int] = []
        for row in rows {
            guard row.keyframeInterval == index.keyframeInterval, row.position <= index.count else { continue }
            guard row.isIntact else {
                bad.append(row.position)
                continue
            }
            insert(.persisted(row), at: row.position, bytes: row.changes.count)
        }
        if !bad.isEmpty {
            damaged += bad
            try? store.removeCachedStates(at: bad)
        }
    }

    private func insert(_ entry: Entry, at position: Int, bytes added: Int) {
        if let old = entries[position] {
            bytes -= cost(old)
        } else {
            positions.insert(position, at: positions.lowerBound(position))
        }
        entries[position] = entry
        bytes += added
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
    }

    private func cost(_ e: Entry) -> Int {
        switch e {
        case .persisted(let row): return row.changes.count
        case .loaded(_, let bytes): return bytes
        }
    }

    /// The state cached at `position`, decoded from its row if need be; nil (and the row
    /// removed) when the row is damaged.
    public func cached(at position: Int) -> VersionMap? {
        loadIfNeeded()
        switch entries[position] {
        case nil: return nil
        case .loaded(let versions, _)?:
            clock += 1
            lastUse[position] = clock
            return versions
        case .persisted(let row)?:
            guard let versions = decode(row) else {
                damaged.append(position)
                remove(position)
                try? store?.removeCachedStates(at: [position])
                return nil
            }
            insert(.loaded(versions, bytes: row.changes.count), at: position, bytes: row.changes.count)
            return versions
        }
    }

    /// Keeps `versions` as the state after the first `position` events (and writes it through).
    public func store(_ versions: VersionMap, at position: Int, addedBytes: Int) {
        loadIfNeeded()
        insert(.loaded(versions, bytes: addedBytes), at: position, bytes: addedBytes)
        if let store {
            let row = encode(versions, at: position)
            try? store.saveCachedState(row)
        }
    }

    /// cache: the nearest cached state at or before `position`, then the diffs after it.
    /// With `keep`, the state reached is cached in turn when it took any events to reach.
    public func reach(_ position: Int, keep: Bool = false) -> IndexedReach {
        loadIfNeeded()
        let position = min(max(position, 0), index.count)
        var start = 0
        var versions = VersionMap()
        while case let i = positions.lowerBound(position + 1) - 1, i >= 0 {
            if let found = cached(at: positions[i]) {
                start = positions[i]
                versions = found
                break
            }  // else the row was damaged and is gone: the one before it is next
        }
        let copiedBefore = versions.copiedBytes
        index.applyForward(start..<position, to: &versions)
        if keep && position > start { store(versions, at: position, addedBytes: max(64, versions.copiedBytes - copiedBefore)) }
        return IndexedReach(versions: versions, applied: position - start)
    }

    // MARK: rows

    /// The state as its differences from the keyframe before it.
    public func encode(_ versions: VersionMap, at position: Int) -> PersistedCachedState {
        let k = position / index.keyframeInterval
        let base = index.keyframes[k]
        var touched = Set<UInt32>()
        for p in (k * index.keyframeInterval)..<position { touched.insert(index.eventStream[p]) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(touched.count * 8)
        for id in touched.sorted() where versions.value(id) != base.value(id) {
            for word in [id, versions.value(id)] { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        return PersistedCachedState(position: position, keyframeInterval: index.keyframeInterval, changes: bytes,
                                    hash: PersistedCachedState.hash(position: position, keyframeInterval: index.keyframeInterval, changes: bytes))
    }

    /// The state a row stands for; nil when the row is damaged or does not fit this index.
    public func decode(_ row: PersistedCachedState) -> VersionMap? {
        guard row.isIntact, row.changes.count % 8 == 0, row.position <= index.count else { return nil }
        var versions = index.keyframes[row.position / index.keyframeInterval]
        var keys: [UInt32] = [], values: [UInt32] = []
        row.changes.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 8) {
                keys.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                values.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)))
            }
        }
        // Ids ascending, known streams, versions of events up to the position, of that stream.
        for (i, (id, version)) in zip(keys, values).enumerated() {
            guard Int(id) < index.streamKeys.count, i == 0 || keys[i - 1] < id, Int(version) <= row.position,
                  version == 0 || (index.eventStream[Int(version) - 1] == id && index.versionAfter(Int(version) - 1) == version)
            else { return nil }
        }
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in versions.set(sortedKeys: k, values: v) } }
        return versions
    }
}
