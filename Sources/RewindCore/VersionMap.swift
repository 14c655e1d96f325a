/// A persistent map from dense stream ids to document versions (0 = the stream has no document).
///
/// A 32-way trie with path copying: a copy of a map costs one reference, and changing one key
/// copies only the nodes on its path that another map still shares (a node owned by this map
/// alone is changed in place). Keyframes of the `TimelineIndex` are such copies, so each shares
/// every untouched node with its neighbours. Stream ids are handed out in order of first
/// appearance, so the streams a stretch of the log touches sit together in few leaves.
///
/// Written by hand rather than using swift-collections' `TreeDictionary`: that one places keys
/// by hash, which scatters neighbouring stream ids over the whole tree (a keyframe then copies a
/// path per touched stream instead of a leaf per 32 neighbours: 158 B/event of keyframes against
/// 28 B/event here, measured in docs/measurements/versionmap-vs-treedictionary), and it cannot
/// overlay one map's changed subtrees onto another, which the squash strategy does with whole days.
/// Sendable because a node is only ever changed by the one map that owns it alone.
public struct VersionMap: @unchecked Sendable {
    /// 32 versions, tail-allocated: one allocation per node, read and written through a pointer.
    final class Leaf: ManagedBuffer<Void, UInt32>, @unchecked Sendable {
        static func make(copying other: Leaf? = nil) -> Leaf {
            let leaf = unsafeDowncast(Leaf.create(minimumCapacity: width) { _ in () }, to: Leaf.self)
            if let other {
                leaf.slots.initialize(from: other.slots, count: width)
            } else {
                leaf.slots.initialize(repeating: 0, count: width)
            }
            return leaf
        }

        /// Stable for the object's life (tail-allocated storage does not move).
        var slots: UnsafeMutablePointer<UInt32> { withUnsafeMutablePointerToElements { $0 } }
    }

    /// 32 children (leaves or branches, by level); the header says whether this is a sparse
    /// node of a patch (`changes(from:to:)`), whose nil children mean "unchanged".
    final class Branch: ManagedBuffer<Bool, AnyObject?>, @unchecked Sendable {
        static func make(copying other: Branch? = nil, sparse: Bool = false) -> Branch {
            let branch = unsafeDowncast(Branch.create(minimumCapacity: width) { _ in sparse }, to: Branch.self)
            if let other {
                branch.slots.initialize(from: other.slots, count: width)
            } else {
                branch.slots.initialize(repeating: nil, count: width)
            }
            return branch
        }

        deinit { _ = withUnsafeMutablePointerToElements { $0.deinitialize(count: width) } }

        var slots: UnsafeMutablePointer<AnyObject?> { withUnsafeMutablePointerToElements { $0 } }
        var sparse: Bool { header }
    }

    static let bits = 5
    static let width = 1 << bits
    static let mask = UInt32(width - 1)

    /// A `Leaf` when `shift` is 0, else a `Branch`.
    var root: AnyObject?
    /// The shift of the root's level: 0 when the root is a leaf.
    var shift = 0
    /// Keys with a non-zero value.
    public private(set) var count = 0
    /// Bytes of nodes this map (and the maps it was copied from) copied rather than shared: the
    /// difference between two readings is what the changes in between added in memory.
    public private(set) var copiedBytes = 0

    public init() {}

    /// Keys below this fit under the current root.
    var capacity: Int { 1 << (shift + VersionMap.bits) }

    @inline(__always) static func leaf(_ o: AnyObject) -> Leaf { unsafeDowncast(o, to: Leaf.self) }
    @inline(__always) static func branch(_ o: AnyObject) -> Branch { unsafeDowncast(o, to: Branch.self) }
    @inline(__always) static func newNode(shift: Int) -> AnyObject { shift == 0 ? Leaf.make() : Branch.make() }

    /// What a node costs in memory: object header, its header field and 32 slots.
    static func nodeBytes(leaf: Bool) -> Int { 16 + 16 + (leaf ? width * 4 : width * 8) }

    public func value(_ key: UInt32) -> UInt32 {
        guard Int(key) < capacity, var node = root else { return 0 }
        var s = shift
        while s > 0 {
            guard let child = VersionMap.branch(node).slots[Int((key >> UInt32(s)) & VersionMap.mask)] else { return 0 }
            node = child
            s -= VersionMap.bits
        }
        return VersionMap.leaf(node).slots[Int(key & VersionMap.mask)]
    }

    /// Sets `key` to `value` (0 removes it).
    public mutating func set(_ key: UInt32, _ value: UInt32) {
        while Int(key) >= capacity { grow() }
        if root == nil { root = VersionMap.newNode(shift: shift) }
        let old = VersionMap.set(&root, key, value, shift: shift, copied: &copiedBytes)
        count += (value != 0 ? 1 : 0) - (old != 0 ? 1 : 0)
    }

    private mutating func grow() {
        if let old = root {
            let top = Branch.make()
            top.slots[0] = old
            root = top
        }
        shift += VersionMap.bits
    }

    /// Makes `node` (never nil) this map's own: copies it when another map shares it.
    @inline(__always) private static func own(_ node: inout AnyObject?, shift: Int, copied: inout Int) {
        if !isKnownUniquelyReferenced(&node) {
            node = shift == 0 ? Leaf.make(copying: leaf(node!)) : Branch.make(copying: branch(node!))
            copied += nodeBytes(leaf: shift == 0)
        }
    }

    private static func set(_ node: inout AnyObject?, _ key: UInt32, _ value: UInt32, shift: Int, copied: inout Int) -> UInt32 {
        own(&node, shift: shift, copied: &copied)
        let i = Int((key >> UInt32(shift)) & mask)
        if shift == 0 {
            let slots = leaf(node!).slots
            let old = slots[i]
            slots[i] = value
            return old
        }
        let children = branch(node!).slots
        if children[i] == nil { children[i] = newNode(shift: shift - bits) }
        return set(&children[i], key, value, shift: shift - bits, copied: &copied)
    }

    /// Sets many keys in one descent: `keys` ascending and distinct, `values[i]` for `keys[i]`.
    /// Each node on the way is visited (and copied, when shared) once, in key order, instead of
    /// once per key from the root.
    public mutating func set(sortedKeys keys: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<UInt32>) {
        guard let last = keys.last else { return }
        while Int(last) >= capacity { grow() }
        if root == nil { root = VersionMap.newNode(shift: shift) }
        var delta = 0
        VersionMap.set(&root, keys, values, keys.startIndex..<keys.endIndex, shift: shift, delta: &delta, copied: &copiedBytes)
        count += delta
    }

    private static func set(_ node: inout AnyObject?, _ keys: UnsafeBufferPointer<UInt32>, _ values: UnsafeBufferPointer<UInt32>,
                            _ range: Range<Int>, shift: Int, delta: inout Int, copied: inout Int) {
        own(&node, shift: shift, copied: &copied)
        if shift == 0 {
            let slots = leaf(node!).slots
            for j in range {
                let i = Int(keys[j] & mask)
                delta += (values[j] != 0 ? 1 : 0) - (slots[i] != 0 ? 1 : 0)
                slots[i] = values[j]
            }
            return
        }
        let children = branch(node!).slots
        var j = range.lowerBound
        while j < range.upperBound {
            let i = Int((keys[j] >> UInt32(shift)) & mask)
            var k = j + 1
            while k < range.upperBound && Int((keys[k] >> UInt32(shift)) & mask) == i { k += 1 }
            if children[i] == nil { children[i] = newNode(shift: shift - bits) }
            set(&children[i], keys, values, j..<k, shift: shift - bits, delta: &delta, copied: &copied)
            j = k
        }
    }

    /// Calls `body` with every key that has a value, ascending.
    public func forEach(_ body: (UInt32, UInt32) throws -> Void) rethrows {
        guard let root else { return }
        try VersionMap.walk(root, base: 0, shift: shift, body)
    }

    private static func walk(_ node: AnyObject, base: UInt32, shift: Int, _ body: (UInt32, UInt32) throws -> Void) rethrows {
        if shift == 0 {
            let slots = leaf(node).slots
            for i in 0..<width where slots[i] != 0 { try body(base | UInt32(i), slots[i]) }
            return
        }
        let children = branch(node).slots
        for i in 0..<width {
            if let child = children[i] { try walk(child, base: base | (UInt32(i) << UInt32(shift)), shift: shift - bits, body) }
        }
    }

    // MARK: Whole-subtree changes (squashed days)

    /// What changed from `old` to `new` (a later version of the same map), as a sparse map of
    /// `new`'s nodes that `old` does not share: whole leaves, so overlaying it on `old` gives `new`.
    public static func changes(from old: VersionMap, to new: VersionMap) -> VersionMap {
        var old = old
        while old.shift < new.shift { old.grow() }
        var patch = VersionMap()
        patch.shift = new.shift
        patch.root = diff(old.root, new.root, shift: new.shift)
        patch.count = new.count - old.count  // the change in count the patch brings
        return patch
    }

    /// A subtree of `new` that most of its children changed is kept whole: overlaying it is one
    /// pointer instead of one per child, and it costs no memory the sparse form would not (its
    /// nodes are the map's own, shared, and unchanged children equal the base's).
    private static func diff(_ old: AnyObject?, _ new: AnyObject?, shift: Int) -> AnyObject? {
        guard let new, new !== old else { return nil }
        guard shift > 0, let old else { return new }
        let n = branch(new).slots, o = branch(old).slots
        var changed = 0
        for i in 0..<width where n[i] !== o[i] { changed += 1 }
        if changed * 2 > width { return new }
        let out = Branch.make(sparse: true)
        var any = false
        for i in 0..<width {
            out.slots[i] = diff(o[i], n[i], shift: shift - bits)
            any = any || out.slots[i] != nil
        }
        return any ? out : nil
    }

    /// This map with `patch` (from `changes(from:to:)` against a map equal to this one) laid
    /// over it: costs the nodes the patch holds, not the keys they hold.
    public func overlaid(with patch: VersionMap) -> VersionMap {
        var base = self
        while base.shift < patch.shift { base.grow() }
        var out = VersionMap()
        out.shift = base.shift
        out.root = VersionMap.overlay(base.root, patch.root, shift: base.shift, patchShift: patch.shift)
        out.count = base.count + patch.count
        return out
    }

    private static func overlay(_ base: AnyObject?, _ patch: AnyObject?, shift: Int, patchShift: Int) -> AnyObject? {
        if shift > patchShift {  // the patch lies entirely under child 0
            let out = Branch.make(copying: base.map(branch))
            out.slots[0] = overlay(base.flatMap { branch($0).slots[0] }, patch, shift: shift - bits, patchShift: patchShift)
            return out
        }
        guard let patch else { return base }
        // A whole subtree replaces the base's; so does a sparse one where the base had nothing
        // (its "unchanged" children were empty at the start of the day too).
        guard shift > 0, branch(patch).sparse, let base else { return patch }
        let out = Branch.make()
        let b = branch(base).slots, p = branch(patch).slots
        for i in 0..<width {
            out.slots[i] = overlay(b[i], p[i], shift: shift - bits, patchShift: patchShift - bits)
        }
        return out
    }

    /// Bytes held by the nodes of `maps`, each node counted once, leaving out nodes that
    /// `excluding` holds: what `maps` add in memory to `excluding`.
    public static func bytes(of maps: [VersionMap], excluding: [VersionMap] = []) -> Int {
        var seen = Set<ObjectIdentifier>()
        for m in excluding { collect(m.root, shift: m.shift, into: &seen) }
        var total = 0
        for m in maps { total += bytes(m.root, shift: m.shift, seen: &seen) }
        return total
    }

    /// Bytes held by nodes not shared with `other` (the memory a keyframe adds to its neighbour).
    public func unsharedBytes(comparedTo other: VersionMap?) -> Int {
        VersionMap.bytes(of: [self], excluding: other.map { [$0] } ?? [])
    }

    private static func collect(_ node: AnyObject?, shift: Int, into seen: inout Set<ObjectIdentifier>) {
        guard let node, seen.insert(ObjectIdentifier(node)).inserted, shift > 0 else { return }
        let children = branch(node).slots
        for i in 0..<width { collect(children[i], shift: shift - bits, into: &seen) }
    }

    private static func bytes(_ node: AnyObject?, shift: Int, seen: inout Set<ObjectIdentifier>) -> Int {
        guard let node, seen.insert(ObjectIdentifier(node)).inserted else { return 0 }
        guard shift > 0 else { return nodeBytes(leaf: true) }
        let children = branch(node).slots
        var total = nodeBytes(leaf: false)
        for i in 0..<width { total += bytes(children[i], shift: shift - bits, seen: &seen) }
        return total
    }
}
