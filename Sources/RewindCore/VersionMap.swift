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
/// path per touched stream instead of a leaf per 32 neighbours), and it cannot overlay one map's
/// changed subtrees onto another, which the squash strategy does with whole days.
public struct VersionMap: Sendable {
    final class Node: @unchecked Sendable {
        var children: ContiguousArray<Node?>
        var values: ContiguousArray<UInt32>
        /// A node of a patch (`changes(from:to:)`) whose nil children mean "unchanged"; every
        /// other node is whole.
        var sparse = false

        init(leaf: Bool) {
            children = leaf ? [] : ContiguousArray(repeating: nil, count: VersionMap.width)
            values = leaf ? ContiguousArray(repeating: 0, count: VersionMap.width) : []
        }

        init(copying other: Node) {
            children = other.children
            values = other.values
        }

        var isLeaf: Bool { children.isEmpty }
    }

    static let bits = 5
    static let width = 1 << bits
    static let mask = UInt32(width - 1)

    var root: Node?
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

    public func value(_ key: UInt32) -> UInt32 {
        guard Int(key) < capacity, var node = root else { return 0 }
        var s = shift
        while s > 0 {
            guard let child = node.children[Int((key >> UInt32(s)) & VersionMap.mask)] else { return 0 }
            node = child
            s -= VersionMap.bits
        }
        return node.values[Int(key & VersionMap.mask)]
    }

    /// Sets `key` to `value` (0 removes it).
    public mutating func set(_ key: UInt32, _ value: UInt32) {
        while Int(key) >= capacity { grow() }
        if root == nil { root = Node(leaf: shift == 0) }
        let old = VersionMap.set(&root!, key, value, shift: shift, copied: &copiedBytes)
        count += (value != 0 ? 1 : 0) - (old != 0 ? 1 : 0)
    }

    private mutating func grow() {
        if let old = root {
            let top = Node(leaf: false)
            top.children[0] = old
            root = top
        }
        shift += VersionMap.bits
    }

    /// What a node costs in memory: object header and two array references, and its array.
    static func nodeBytes(leaf: Bool) -> Int { 32 + (leaf ? 32 + width * 4 : 32 + width * 8) }

    private static func set(_ node: inout Node, _ key: UInt32, _ value: UInt32, shift: Int, copied: inout Int) -> UInt32 {
        if !isKnownUniquelyReferenced(&node) {
            node = Node(copying: node)
            copied += nodeBytes(leaf: shift == 0)
        }
        let i = Int((key >> UInt32(shift)) & mask)
        if shift == 0 {
            let old = node.values[i]
            node.values[i] = value
            return old
        }
        if node.children[i] == nil { node.children[i] = Node(leaf: shift == bits) }
        return set(&node.children[i]!, key, value, shift: shift - bits, copied: &copied)
    }

    /// Sets many keys in one descent: `keys` ascending and distinct, `values[i]` for `keys[i]`.
    /// Each node on the way is visited (and copied, when shared) once, in key order, instead of
    /// once per key from the root.
    public mutating func set(sortedKeys keys: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<UInt32>) {
        guard let last = keys.last else { return }
        while Int(last) >= capacity { grow() }
        if root == nil { root = Node(leaf: shift == 0) }
        var delta = 0
        VersionMap.set(&root!, keys, values, keys.startIndex..<keys.endIndex, shift: shift, delta: &delta, copied: &copiedBytes)
        count += delta
    }

    private static func set(_ node: inout Node, _ keys: UnsafeBufferPointer<UInt32>, _ values: UnsafeBufferPointer<UInt32>,
                            _ range: Range<Int>, shift: Int, delta: inout Int, copied: inout Int) {
        if !isKnownUniquelyReferenced(&node) {
            node = Node(copying: node)
            copied += nodeBytes(leaf: shift == 0)
        }
        if shift == 0 {
            node.values.withUnsafeMutableBufferPointer { slots in
                for j in range {
                    let i = Int(keys[j] & mask)
                    delta += (values[j] != 0 ? 1 : 0) - (slots[i] != 0 ? 1 : 0)
                    slots[i] = values[j]
                }
            }
            return
        }
        var j = range.lowerBound
        while j < range.upperBound {
            let i = Int((keys[j] >> UInt32(shift)) & mask)
            var k = j + 1
            while k < range.upperBound && Int((keys[k] >> UInt32(shift)) & mask) == i { k += 1 }
            if node.children[i] == nil { node.children[i] = Node(leaf: shift == bits) }
            set(&node.children[i]!, keys, values, j..<k, shift: shift - bits, delta: &delta, copied: &copied)
            j = k
        }
    }

    /// Calls `body` with every key that has a value, ascending.
    public func forEach(_ body: (UInt32, UInt32) throws -> Void) rethrows {
        guard let root else { return }
        try VersionMap.walk(root, base: 0, shift: shift, body)
    }

    private static func walk(_ node: Node, base: UInt32, shift: Int, _ body: (UInt32, UInt32) throws -> Void) rethrows {
        if shift == 0 {
            for (i, v) in node.values.enumerated() where v != 0 { try body(base | UInt32(i), v) }
            return
        }
        for (i, child) in node.children.enumerated() {
            if let child { try walk(child, base: base | (UInt32(i) << UInt32(shift)), shift: shift - bits, body) }
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
    private static func diff(_ old: Node?, _ new: Node?, shift: Int) -> Node? {
        guard let new, new !== old else { return nil }
        guard shift > 0, let old else { return new }
        var changed = 0
        for i in 0..<width where new.children[i] !== old.children[i] { changed += 1 }
        if changed * 2 > width { return new }
        let out = Node(leaf: false)
        out.sparse = true
        var any = false
        for i in 0..<width {
            out.children[i] = diff(old.children[i], new.children[i], shift: shift - bits)
            any = any || out.children[i] != nil
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

    private static func overlay(_ base: Node?, _ patch: Node?, shift: Int, patchShift: Int) -> Node? {
        if shift > patchShift {  // the patch lies entirely under child 0
            let out = base.map { Node(copying: $0) } ?? Node(leaf: false)
            out.children[0] = overlay(base?.children[0], patch, shift: shift - bits, patchShift: patchShift)
            return out
        }
        guard let patch else { return base }
        // A whole subtree replaces the base's; so does a sparse one where the base had nothing
        // (its "unchanged" children were empty at the start of the day too).
        guard patch.sparse, let base else { return patch }
        let out = Node(leaf: false)
        for i in 0..<width {
            out.children[i] = overlay(base.children[i], patch.children[i], shift: shift - bits, patchShift: patchShift - bits)
        }
        return out
    }

    /// Bytes held by the nodes of `maps`, each node counted once, leaving out nodes that
    /// `excluding` holds: what `maps` add in memory to `excluding`.
    public static func bytes(of maps: [VersionMap], excluding: [VersionMap] = []) -> Int {
        var seen = Set<ObjectIdentifier>()
        for m in excluding { collect(m.root, into: &seen) }
        var total = 0
        for m in maps { total += bytes(m.root, seen: &seen) }
        return total
    }

    /// Bytes held by nodes not shared with `other` (the memory a keyframe adds to its neighbour).
    public func unsharedBytes(comparedTo other: VersionMap?) -> Int {
        VersionMap.bytes(of: [self], excluding: other.map { [$0] } ?? [])
    }

    private static func collect(_ node: Node?, into seen: inout Set<ObjectIdentifier>) {
        guard let node, seen.insert(ObjectIdentifier(node)).inserted else { return }
        for child in node.children { collect(child, into: &seen) }
    }

    private static func bytes(_ node: Node?, seen: inout Set<ObjectIdentifier>) -> Int {
        guard let node, seen.insert(ObjectIdentifier(node)).inserted else { return 0 }
        let own = nodeBytes(leaf: node.isLeaf)
        return node.children.reduce(own) { $0 + bytes($1, seen: &seen) }
    }
}
