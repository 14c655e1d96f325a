/// The builder's live map: the state after the events folded so far, as a trie whose nodes
/// remember where they were last written. At a persistence point (a keyframe, the end of a day
/// or of a segment) only the nodes changed since the last one are written; the rest keep their
/// file references, which is what makes consecutive keyframes share nodes.
///
/// Started from a committed map (an extension), its nodes are read from the file as the fold
/// reaches them.
struct WorkingTrie {
    /// 32 slots per node: values in leaves; in branches a child, tagged: `NodeRef.scratchBit |
    /// index` for a node here, else the file reference of a node not read yet (0: none).
    private var slots: [UInt32] = []
    /// The file reference each node was last written at (0: never).
    private var written: [UInt32] = []
    private var dirty: [Bool] = []
    private var root: UInt32 = 0  // tagged like a child
    private(set) var shift = 0
    private(set) var count = 0
    private(set) var existing = 0
    let image: IndexImage?

    init(image: IndexImage?, start: MapRecord?) {
        self.image = image
        if let start {
            root = start.root
            shift = start.shift
            count = start.count
            existing = start.existing
        }
    }

    private mutating func newNode(copying ref: UInt32) -> UInt32 {
        let index = written.count
        if ref != 0, let image {
            let source = image.slots(ref)
            for i in 0..<32 { slots.append(UInt32(littleEndian: source[i])) }
        } else {
            slots.append(contentsOf: repeatElement(0, count: 32))
        }
        written.append(ref)
        dirty.append(ref == 0)
        return NodeRef.scratchBit | UInt32(index)
    }

    /// The node here for a tagged reference, reading it from the file if need be.
    private mutating func resolve(_ tagged: UInt32) -> Int {
        if NodeRef.isScratch(tagged) { return Int(tagged & ~NodeRef.scratchBit) }
        return Int(newNode(copying: tagged) & ~NodeRef.scratchBit)
    }

    func value(_ key: UInt32) -> UInt32 {
        guard Int(key) < 1 << (shift + VersionMap.bits), root != 0 else { return 0 }
        var tagged = root
        var s = shift
        while true {
            let slot: UInt32
            let i = s == 0 ? Int(key & VersionMap.mask) : Int((key >> UInt32(s)) & VersionMap.mask)
            if NodeRef.isScratch(tagged) {
                slot = slots[Int(tagged & ~NodeRef.scratchBit) * 32 + i]
            } else {
                slot = UInt32(littleEndian: image!.slots(tagged)[i])
            }
            if s == 0 { return slot }
            if slot == 0 { return 0 }
            tagged = slot
            s -= VersionMap.bits
        }
    }

    mutating func set(_ key: UInt32, _ value: UInt32) {
        while Int(key) >= 1 << (shift + VersionMap.bits) {
            if root != 0 {
                let top = newNode(copying: 0)
                slots[Int(top & ~NodeRef.scratchBit) * 32] = root
                root = top
            }
            shift += VersionMap.bits
        }
        if root == 0 { root = newNode(copying: 0) }
        var node = resolve(root)
        root = NodeRef.scratchBit | UInt32(node)
        var s = shift
        while s > 0 {
            dirty[node] = true
            let i = node * 32 + Int((key >> UInt32(s)) & VersionMap.mask)
            let child = slots[i] == 0 ? Int(newNode(copying: 0) & ~NodeRef.scratchBit) : resolve(slots[i])
            slots[i] = NodeRef.scratchBit | UInt32(child)
            node = child
            s -= VersionMap.bits
        }
        dirty[node] = true
        let i = node * 32 + Int(key & VersionMap.mask)
        let old = slots[i]
        count += (value != 0 ? 1 : 0) - (old != 0 ? 1 : 0)
        existing += Int(value & 1) - Int(old & 1)
        slots[i] = value
    }

    /// Writes the nodes changed since the last persistence point; returns the map as written.
    mutating func persist(position: Int, write: (UnsafePointer<UInt32>) throws -> UInt32) rethrows -> MapRecord {
        let rootRef = root == 0 ? 0 : try persist(root, shift: shift, write: write)
        return MapRecord(position: position, root: rootRef, shift: shift, count: count, existing: existing)
    }

    private mutating func persist(_ tagged: UInt32, shift: Int, write: (UnsafePointer<UInt32>) throws -> UInt32) rethrows -> UInt32 {
        guard NodeRef.isScratch(tagged) else { return tagged }  // never read: unchanged in the file
        let node = Int(tagged & ~NodeRef.scratchBit)
        guard dirty[node] else { return written[node] }
        var out = [UInt32](repeating: 0, count: 32)
        for i in 0..<32 {
            let slot = slots[node * 32 + i]
            out[i] = shift == 0 || slot == 0 ? slot : try persist(slot, shift: shift - VersionMap.bits, write: write)
        }
        let ref = try out.withUnsafeBufferPointer { try write($0.baseAddress!) }
        written[node] = ref
        dirty[node] = false
        return ref
    }

    /// Bytes this trie holds in memory.
    var memoryBytes: Int { slots.count * 4 + written.count * 5 }
}
