/// Copies the records a commit uses into a new index, leaving behind what earlier commits wrote
/// and no longer use (each extension rewrites a directory, and a cut segment is written again).
/// Nothing is folded: records are copied as they are, nodes in their order (so a day's watermark
/// still separates the nodes it changed from older ones) with their children's references and
/// check words rewritten for where they now are.
public enum IndexCompaction {
    /// Writes the index `image` holds into `output` (an empty index) and commits it.
    public static func copy(_ image: IndexImage, to output: IndexOutput) throws {
        try image.check()
        // Every node the commit's maps reach, with its level.
        var level: [UInt32: Int] = [:]
        func walk(_ ref: UInt32, _ shift: Int) {
            guard ref != 0, level[ref] == nil else { return }
            level[ref] = shift
            guard shift > 0 else { return }
            let s = image.slots(ref)
            for i in 0..<VersionMap.width { walk(s[i], shift - VersionMap.bits) }
        }
        var maps = image.footers.flatMap { $0.keyframes + $0.days.map(\.map) }
        maps.append(image.directory.head)
        for m in maps { walk(m.root, m.shift) }
        try image.check()
        let old = level.keys.sorted()
        var new = [UInt32](repeating: 0, count: old.count)
        // Nodes first, in their order: their new references are known before any is written.
        let firstNode = UInt32(output.end / 4)
        for i in old.indices { new[i] = firstNode + UInt32(i * IndexFormat.nodeWords) }
        func relocated(_ ref: UInt32) -> UInt32 {
            guard ref != 0 else { return 0 }
            let i = old.lowerBound(ref)
            precondition(i < old.count && old[i] == ref, "a reachable node was not collected")
            return new[i]
        }
        /// A watermark: the new reference of the first node at or past it.
        func watermark(_ w: UInt32) -> UInt32 {
            let i = old.lowerBound(w)
            return i < old.count ? new[i] : firstNode + UInt32(old.count * IndexFormat.nodeWords)
        }
        var record = [UInt32](repeating: 0, count: IndexFormat.nodeWords)
        for (i, ref) in old.enumerated() {
            let s = image.slots(ref)
            let leaf = level[ref] == 0
            for k in 0..<VersionMap.width { record[k] = (leaf ? s[k] : relocated(s[k])).littleEndian }
            record[32] = record.withUnsafeBufferPointer { IndexFormat.nodeCheck($0.baseAddress!, ref: new[i]).littleEndian }
            let at = try record.withUnsafeBytes { try output.append($0) }
            precondition(at == UInt64(new[i]) * 4)
        }
        try image.check()
        func moved(_ m: MapRecord) -> MapRecord {
            var m = m
            m.root = relocated(m.root)
            return m
        }
        func copyRecord(_ ref: RecordRef) throws -> RecordRef {
            guard ref.length > 0 else { return ref }
            let bytes = try IndexImage.region(image.bytes, ref.offset, ref.length, "a record")
            return RecordRef(offset: try output.append(bytes), length: ref.length, checksum: ref.checksum)
        }
        func copyPaged(_ ref: PagedRef) throws -> PagedRef {
            guard ref.length > 0 else { return ref }
            let bytes = try IndexImage.region(image.bytes, ref.offset, ref.length, "a record")
            return PagedRef(offset: try output.append(bytes), length: ref.length, pages: ref.pages)
        }
        var live = UInt64(IndexFormat.headerSize) + UInt64(old.count * IndexFormat.nodeBytes)
        var segments: [RecordRef] = []
        for f in image.footers {
            let start = output.end
            var g = f
            g.chunks = try f.chunks.map(copyRecord)
            g.docBlocks = try f.docBlocks.map(copyRecord)
            g.names = try copyPaged(f.names)
            g.issues = try copyRecord(f.issues)
            g.keyframes = f.keyframes.map(moved)
            g.days = f.days.map { d in
                var d = d
                d.map = moved(d.map)
                d.watermark = watermark(d.watermark)
                return d
            }
            g.openDay = f.openDay.map { var o = $0; o.watermark = watermark(o.watermark); return o }
            g.size = 0
            g.size = Int(output.end - start) + g.encoded().count
            let bytes = g.encoded()
            segments.append(RecordRef(offset: try output.append(bytes), length: bytes.count, checksum: ContentHash.of(bytes)))
            live += UInt64(g.size)
        }
        var d = image.directory
        d.segments = segments
        d.head = moved(d.head)
        d.openDay = d.openDay.map { var o = $0; o.watermark = watermark(o.watermark); return o }
        d.sorted = try copyPaged(d.sorted)
        live += UInt64(d.sorted.length)
        d.liveBytes = live
        let encoded = d.encoded()
        let at = try output.append(encoded)
        try output.commit(directoryOffset: at, length: encoded.count)
    }
}
