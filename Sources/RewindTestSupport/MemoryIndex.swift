import RewindCore

/// An index file in memory: appends to an array, commits by rewriting the header's root slot,
/// as the store module's `IndexFile` does on disk. `image()` reads the committed version.
public final class MemoryIndexOutput: IndexOutput {
    public private(set) var bytes: [UInt8]
    private var generation: UInt64 = 0

    public init() { bytes = IndexHeader.initial() }

    public var end: UInt64 { UInt64(bytes.count) }

    public func append(_ record: UnsafeRawBufferPointer) throws -> UInt64 {
        let offset = UInt64(bytes.count)
        bytes.append(contentsOf: record)
        while bytes.count % 4 != 0 { bytes.append(0) }
        return offset
    }

    public func commit(directoryOffset: UInt64, length: Int) throws {
        generation += 1
        let (at, slot) = IndexHeader.rootSlot(generation: generation, directoryOffset: directoryOffset, length: length, fileLength: end)
        bytes.replaceSubrange(at..<(at + slot.count), with: slot)
    }

    /// Cuts the array at `length` (as a crash would leave a file: what was appended since the
    /// last commit is still there, or cut short).
    public func truncate(to length: Int) { bytes.removeLast(max(0, bytes.count - length)) }

    /// The committed index, read from a copy of the bytes.
    public func image() throws -> IndexImage {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        copy.copyBytes(from: bytes)
        return try IndexImage(bytes: UnsafeRawBufferPointer(rebasing: copy[0..<bytes.count]), owner: Allocation(copy))
    }

    final class Allocation {
        let memory: UnsafeMutableRawBufferPointer
        init(_ m: UnsafeMutableRawBufferPointer) { memory = m }
        deinit { memory.deallocate() }
    }
}

/// Cached states in memory.
public final class MemoryCachedStates: CachedStateStore {
    public var rows: [Int: CachedStateRow] = [:]
    public init() {}
    public func loadCachedStates() throws -> [CachedStateRow] { rows.values.sorted { $0.position < $1.position } }
    public func saveCachedState(_ row: CachedStateRow) throws { rows[row.position] = row }
    public func removeCachedStates(at positions: [Int]) throws { for p in positions { rows.removeValue(forKey: p) } }
}

/// Builds the index of `events` (any order: they are put in timeline order) in memory.
/// Stream ids are handed out in order of first appearance. `dataAsText`: each event's `data`
/// goes in as JSON text, as an import hands it over.
public func buildMemoryIndex(_ events: [Event], fold: Fold, layout: IndexLayout = .standard,
                             identity: IndexIdentity = IndexIdentity(store: "memory", rules: ""),
                             dataAsText: Bool = false) throws -> (TimelineIndex, MemoryIndexOutput) {
    let output = MemoryIndexOutput()
    let builder = try IndexBuilder(output: output, fold: fold, identity: identity, layout: layout)
    var ids: [StreamKey: UInt32] = [:]
    for e in MemoryTimeline(events).events {
        let key = StreamKey(service: e.service, stream: e.stream)
        let id = ids[key] ?? builder.addStream(service: e.service, stream: e.stream)
        ids[key] = id
        if dataAsText {
            var bare = e
            bare.data = .emptyObject
            try Array(e.data.jsonText.utf8).withUnsafeBufferPointer { try builder.add(bare, stream: id, dataText: $0) }
        } else {
            try builder.add(e, stream: id)
        }
    }
    try builder.finish()
    return (TimelineIndex(image: try output.image()), output)
}
