/// A persistent map from dense stream ids to stream versions: a 32-way trie whose nodes live
/// either in the index file (immutable, shared by every keyframe that has them) or in the map's
/// own scratch space (its changes). Changing a key copies the nodes on its path into scratch
/// once; later changes to them are in place. A keyframe is a root in the file, so reaching a
/// point in time copies only the paths the events after the keyframe touched.
///
/// A value encodes a stream's last event and whether the stream has a document after it:
/// `(position + 1) << 1 | hasDocument`; 0 means the stream has had no event yet
/// (`StreamVersion`). Stream ids are handed out in order of first appearance, so the streams a
/// stretch of the log touches sit together in few leaves.
///
/// Written by hand rather than with swift-collections' `TreeDictionary`: that one places keys by
/// hash, which scatters neighbouring ids over the whole tree (158 B/event of keyframes against 28,
/// measured in docs/measurements/versionmap-vs-treedictionary), cannot share nodes with a file,
/// and cannot overlay one map's changed subtrees onto another (the squash strategy's days).
public struct VersionMap: @unchecked Sendable {
    /// Where nodes outside scratch are read from (nil: a map of scratch nodes only).
    let image: IndexImage?
    var scratch: NodeScratch?
    /// 0: empty; a `NodeRef` otherwise.
    var root: UInt32 = 0
    /// The shift of the root's level: 0 when the root is a leaf.
    var shift = 0
    /// Keys with a non-zero value (streams seen).
    public private(set) var count = 0
    /// Keys whose value has a document (streams that exist).
    public private(set) var existing = 0

    static let bits = 5
    static let width = 32
    static let mask = UInt32(31)

    public init(image: IndexImage? = nil) { self.image = image }

    init(image: IndexImage?, root: UInt32, shift: Int, count: Int, existing: Int) {
        self.image = image
        self.root = root
        self.shift = shift
        self.count = count
        self.existing = existing
    }

    /// Keys below this fit under the current root.
    var capacity: Int { 1 << (shift + VersionMap.bits) }

    /// The 32 slots of a node (a damaged file node reads as zeros; `IndexImage.damage` tells).
    @inline(__always) func slots(_ ref: UInt32) -> UnsafePointer<UInt32> {
        if NodeRef.isScratch(ref) { return UnsafePointer(scratch!.slots(ref)) }
        return image!.slots(ref)
    }

    public func value(_ key: UInt32) -> UInt32 {
        guard Int(key) < capacity, root != 0 else { return 0 }
        var node = root
        var s = shift
        while s > 0 {
            node = slots(node)[Int((key >> UInt32(s)) & VersionMap.mask)]
            if node == 0 { return 0 }
            s -= VersionMap.bits
        }
        return slots(node)[Int(key & VersionMap.mask)]
    }

    // MARK: changing

    /// Makes the scratch space this map's own (a copy of a map shares it until one changes).
    @inline(__always) private mutating func ownScratch() {
        if scratch == nil {
            scratch = NodeScratch()
        } else if !isKnownUniquelyReferenced(&scratch!) {
            scratch = scratch!.copy()
        }
    }

    /// A node this map may change: `ref` itself when it is in scratch, else a scratch copy of it.
    @inline(__always) private func writable(_ ref: UInt32) -> UInt32 {
        if ref == 0 { return scratch!.allocate(copying: nil) }
        if NodeRef.isScratch(ref) { return ref }
        return scratch!.allocate(copying: image!.slots(ref))
    }

    private mutating func grow() {
        if root != 0 {
            ownScratch()
            let top = scratch!.allocate(copying: nil)
            scratch!.slots(top)[0] = root
            root = top
        }
        shift += VersionMap.bits
    }

    @inline(__always) private mutating func account(old: UInt32, new: UInt32) {
        count += (new != 0 ? 1 : 0) - (old != 0 ? 1 : 0)
        existing += Int(new & 1) - Int(old & 1)
    }

    /// Sets `key` to `value` (0 removes it).
    public mutating func set(_ key: UInt32, _ value: UInt32) {
        while Int(key) >= capacity { grow() }
        ownScratch()
        root = writable(root)
        var node = root
        var s = shift
        while s > 0 {
            let slots = scratch!.slots(node)
            let i = Int((key >> UInt32(s)) & VersionMap.mask)
            let child = writable(slots[i])
            scratch!.slots(node)[i] = child  // `slots` may have moved if scratch grew
            node = child
            s -= VersionMap.bits
        }
        let leaf = scratch!.slots(node)
        let i = Int(key & VersionMap.mask)
        account(old: leaf[i], new: value)
        leaf[i] = value
    }

    /// Sets many keys in one descent: `keys` ascending and distinct, `values[i]` for `keys[i]`.
    /// Each node on the way is visited (and copied into scratch) once, in key order.
    public mutating func set(sortedKeys keys: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<UInt32>) {
        guard let last = keys.last else { return }
        while Int(last) >= capacity { grow() }
        ownScratch()
        root = setBatch(root, keys, values, keys.startIndex..<keys.endIndex, shift: shift)
    }

    private mutating func setBatch(_ ref: UInt32, _ keys: UnsafeBufferPointer<UInt32>, _ values: UnsafeBufferPointer<UInt32>,
                                   _ range: Range<Int>, shift: Int) -> UInt32 {
        let node = writable(ref)
        if shift == 0 {
            let leaf = scratch!.slots(node)
            for j in range {
                let i = Int(keys[j] & VersionMap.mask)
                account(old: leaf[i], new: values[j])
                leaf[i] = values[j]
            }
            return node
        }
        var j = range.lowerBound
        while j < range.upperBound {
            let i = Int((keys[j] >> UInt32(shift)) & VersionMap.mask)
            var k = j + 1
            while k < range.upperBound && Int((keys[k] >> UInt32(shift)) & VersionMap.mask) == i { k += 1 }
            let child = scratch!.slots(node)[i]
            let updated = setBatch(child, keys, values, j..<k, shift: shift - VersionMap.bits)
            scratch!.slots(node)[i] = updated
            j = k
        }
        return node
    }

    // MARK: reading all

    /// Calls `body` with every key that has a value, ascending.
    public func forEach(_ body: (UInt32, UInt32) throws -> Void) rethrows {
        guard root != 0 else { return }
        try walk(root, base: 0, shift: shift, body)
    }

    private func walk(_ ref: UInt32, base: UInt32, shift: Int, _ body: (UInt32, UInt32) throws -> Void) rethrows {
        let s = slots(ref)
        if shift == 0 {
            for i in 0..<VersionMap.width where s[i] != 0 { try body(base | UInt32(i), s[i]) }
            return
        }
        for i in 0..<VersionMap.width where s[i] != 0 {
            try walk(s[i], base: base | (UInt32(i) << UInt32(shift)), shift: shift - VersionMap.bits, body)
        }
    }

    /// Calls `body` with every key whose value differs between `self` and `other` (a map of the
    /// same image), skipping subtrees the two share: the cost is what differs, not the map's size.
    public func forEachDifference(from other: VersionMap, _ body: (UInt32, UInt32, UInt32) throws -> Void) rethrows {
        var a = self, b = other
        while a.shift < b.shift { a.grow() }
        while b.shift < a.shift { b.grow() }
        try VersionMap.differences(a, a.root, b, b.root, base: 0, shift: a.shift, body)
    }

    private static func differences(_ a: VersionMap, _ ra: UInt32, _ b: VersionMap, _ rb: UInt32, base: UInt32, shift: Int,
                                    _ body: (UInt32, UInt32, UInt32) throws -> Void) rethrows {
        if ra == rb && !NodeRef.isScratch(ra) { return }  // the same file node: shared
        let zero = NodeScratch.zeros
        let sa = ra == 0 ? zero : a.slots(ra), sb = rb == 0 ? zero : b.slots(rb)
        for i in 0..<width {
            if shift == 0 {
                if sa[i] != sb[i] { try body(base | UInt32(i), sa[i], sb[i]) }
            } else if sa[i] != 0 || sb[i] != 0 {
                try differences(a, sa[i], b, sb[i], base: base | (UInt32(i) << UInt32(shift)), shift: shift - bits, body)
            }
        }
    }

    // MARK: whole-subtree changes (squashed days)

    /// This map with the nodes of `day` that are newer than `watermark` laid over it: `day` is the
    /// map at the end of a day, `watermark` the end of the file when the day began, and `self`
    /// equals the map when the day began. Nodes of `day` older than the watermark are the ones
    /// the day did not change; a branch most of whose children changed is taken whole.
    /// Costs the nodes the day changed, not the keys they hold.
    public func overlaid(with day: VersionMap, since watermark: UInt32) -> VersionMap {
        var base = self
        while base.shift < day.shift { base.grow() }
        var out = base
        out.ownScratch()
        out.root = out.overlay(base.root, day, day.root, shift: base.shift, dayShift: day.shift, watermark: watermark)
        out.count = day.count
        out.existing = day.existing
        return out
    }

    private mutating func overlay(_ baseRef: UInt32, _ day: VersionMap, _ dayRef: UInt32, shift: Int, dayShift: Int,
                                  watermark: UInt32) -> UInt32 {
        if shift > dayShift {  // the day's map lies entirely under child 0
            let node = writable(baseRef)
            let child = baseRef == 0 ? 0 : slots(baseRef)[0]
            scratch!.slots(node)[0] = overlay(child, day, dayRef, shift: shift - VersionMap.bits, dayShift: dayShift, watermark: watermark)
            return node
        }
        // Unchanged during the day (an older file node, or nothing), or the base had nothing here.
        if dayRef == 0 || (!NodeRef.isScratch(dayRef) && dayRef < watermark) { return baseRef }
        if baseRef == 0 || shift == 0 { return dayRef }
        let d = day.slots(dayRef)
        var changed = 0
        for i in 0..<VersionMap.width where d[i] != 0 && (NodeRef.isScratch(d[i]) || d[i] >= watermark) { changed += 1 }
        if changed * 2 > VersionMap.width { return dayRef }
        let node = writable(baseRef)
        for i in 0..<VersionMap.width {
            let di = day.slots(dayRef)[i]
            guard di != 0 && (NodeRef.isScratch(di) || di >= watermark) else { continue }
            let bi = scratch!.slots(node)[i]
            let updated = overlay(bi, day, di, shift: shift - VersionMap.bits, dayShift: dayShift - VersionMap.bits, watermark: watermark)
            scratch!.slots(node)[i] = updated
        }
        return node
    }

    /// Scratch nodes this map holds (what reaching it copied), in bytes.
    public var scratchBytes: Int { (scratch?.count ?? 0) * NodeScratch.nodeBytes }
}

/// A node reference: 0 is none; with the high bit set, a node in a map's scratch space (its index
/// there); otherwise the node's byte offset in the index file divided by 4.
enum NodeRef {
    static let scratchBit: UInt32 = 0x8000_0000
    @inline(__always) static func isScratch(_ ref: UInt32) -> Bool { ref & scratchBit != 0 }
}

/// A map's own nodes: 32 slots each, in one growable buffer.
final class NodeScratch: @unchecked Sendable {
    static let nodeBytes = 128
    private var storage: UnsafeMutablePointer<UInt32>
    private var capacity: Int
    private(set) var count = 0

    nonisolated(unsafe) static let zeros: UnsafePointer<UInt32> = {
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: 32)
        p.initialize(repeating: 0, count: 32)
        return UnsafePointer(p)
    }()

    init(capacity: Int = 64) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity * 32)
    }

    deinit { storage.deallocate() }

    func copy() -> NodeScratch {
        let c = NodeScratch(capacity: max(count, 64))
        c.storage.update(from: storage, count: count * 32)
        c.count = count
        return c
    }

    @inline(__always) func slots(_ ref: UInt32) -> UnsafeMutablePointer<UInt32> {
        storage + Int(ref & ~NodeRef.scratchBit) * 32
    }

    /// A new node, zeroed or a copy of `source`. (Pointers from `slots` are invalid afterwards.)
    func allocate(copying source: UnsafePointer<UInt32>?) -> UInt32 {
        if count == capacity {
            let bigger = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity * 2 * 32)
            bigger.update(from: storage, count: count * 32)
            storage.deallocate()
            storage = bigger
            capacity *= 2
        }
        let p = storage + count * 32
        if let source { p.update(from: source, count: 32) } else { p.update(repeating: 0, count: 32) }
        count += 1
        return NodeRef.scratchBit | UInt32(count - 1)
    }
}

/// A stream's version as a map value: its last event and whether it has a document after it.
public enum StreamVersion {
    @inline(__always) public static func make(position: Int, hasDocument: Bool) -> UInt32 {
        UInt32(position + 1) << 1 | (hasDocument ? 1 : 0)
    }
    /// The position of the stream's last event (nil: none yet).
    @inline(__always) public static func lastEvent(_ v: UInt32) -> Int? { v == 0 ? nil : Int(v >> 1) - 1 }
    @inline(__always) public static func hasDocument(_ v: UInt32) -> Bool { v & 1 != 0 }
}
