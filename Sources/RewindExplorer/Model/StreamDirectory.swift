import RewindCore

/// The streams pane's view of every stream the index knows, in (service, stream) order: which
/// exist at the cursor, grouped by service, and only the rows on screen built. It reads the
/// versions of the state at the cursor and the index's sorted stream list; nothing here costs
/// the number of streams per key press (a state can hold a million of them).
struct StreamDirectory {
    let index: TimelineIndex
    /// Stream ids in order, and each id's place in it.
    let sorted: [UInt32]
    let rank: [UInt32]
    /// Each service's run of `sorted`: its name and first rank (ascending; ends at the next).
    let services: [(name: String, first: Int)]
    /// Streams that exist at the cursor, per service (kept in step with the cursor).
    private(set) var existing: [Int]
    /// The existing streams in order, when few streams have appeared yet (else nil: ranks are scanned).
    private var few: [UInt32]?
    static let fewLimit = 50_000

    init(index: TimelineIndex, versions: VersionMap) {
        self.index = index
        sorted = index.sortedStreams.all()
        var rank = [UInt32](repeating: 0, count: sorted.count)
        for (r, id) in sorted.enumerated() { rank[Int(id)] = UInt32(r) }
        self.rank = rank
        // Services are runs of the sorted list: each found by a binary search for its end.
        var services: [(String, Int)] = []
        var r = 0
        while r < sorted.count {
            let name = (try? index.streamKey(sorted[r]).service) ?? ""
            var lo = r + 1, hi = sorted.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if ((try? index.streamKey(sorted[mid]).service) ?? "").utf8.elementsEqual(name.utf8) { lo = mid + 1 } else { hi = mid }
            }
            services.append((name, r))
            r = lo
        }
        self.services = services
        existing = Array(repeating: 0, count: services.count)
        reset(to: versions)
    }

    func service(ofRank r: Int) -> Int {
        var lo = 0, hi = services.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if services[mid].first <= r { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    func service(of id: UInt32) -> Int { service(ofRank: Int(rank[Int(id)])) }

    /// Counts from scratch (a jump far away).
    mutating func reset(to versions: VersionMap) {
        existing = Array(repeating: 0, count: services.count)
        var list: [UInt32] = []
        let small = versions.count <= StreamDirectory.fewLimit
        versions.forEach { id, v in
            guard StreamVersion.hasDocument(v), Int(id) < rank.count else { return }
            existing[service(of: id)] += 1
            if small { list.append(id) }
        }
        few = small ? list.sorted { rank[Int($0)] < rank[Int($1)] } : nil
    }

    /// Follows the cursor from `old` to `new`: only the streams whose versions differ are read.
    mutating func move(from old: VersionMap, to new: VersionMap) {
        if new.count > StreamDirectory.fewLimit && few != nil { few = nil }
        if new.count <= StreamDirectory.fewLimit && few == nil { return reset(to: new) }
        new.forEachDifference(from: old) { id, now, before in
            let was = StreamVersion.hasDocument(before), is_ = StreamVersion.hasDocument(now)
            guard was != is_, Int(id) < rank.count else { return }
            existing[service(of: id)] += is_ ? 1 : -1
            guard few != nil else { return }
            let r = rank[Int(id)]
            var lo = 0, hi = few!.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if rank[Int(few![mid])] < r { lo = mid + 1 } else { hi = mid }
            }
            if is_ { few!.insert(id, at: lo) } else if lo < few!.count && few![lo] == id { few!.remove(at: lo) }
        }
    }

    var streamCount: Int { existing.reduce(0, +) }
    var serviceCount: Int { existing.filter { $0 > 0 }.count }

    /// The existing stream nearest `id` in order (itself when it exists), or the first.
    func nearest(_ id: UInt32?, in versions: VersionMap) -> UInt32? {
        let start = id.map { Int(rank[Int($0)]) } ?? 0
        if let few {
            guard !few.isEmpty else { return nil }
            var lo = 0, hi = few.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Int(rank[Int(few[mid])]) < start { lo = mid + 1 } else { hi = mid }
            }
            return few[min(lo, few.count - 1)]
        }
        var r = start
        while r < sorted.count { if StreamVersion.hasDocument(versions.value(sorted[r])) { return sorted[r] }; r += 1 }
        r = start - 1
        while r >= 0 { if StreamVersion.hasDocument(versions.value(sorted[r])) { return sorted[r] }; r -= 1 }
        return nil
    }

    /// The existing stream `by` places after (or before) `id` in order.
    func neighbour(of id: UInt32, by delta: Int, in versions: VersionMap) -> UInt32? {
        var found: UInt32? = id
        var steps = 0
        walk(from: Int(rank[Int(id)]), forward: delta > 0, in: versions) { next in
            if next == id { return true }
            found = next
            steps += 1
            return steps < abs(delta)
        }
        return found
    }

    /// Calls `body` with existing streams from rank `start` (included) on, forward or back,
    /// until it returns false.
    func walk(from start: Int, forward: Bool, in versions: VersionMap, _ body: (UInt32) -> Bool) {
        if let few {
            var lo = 0, hi = few.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Int(rank[Int(few[mid])]) < start { lo = mid + 1 } else { hi = mid }
            }
            if forward {
                var i = lo
                while i < few.count, body(few[i]) { i += 1 }
            } else {
                var i = lo < few.count && Int(rank[Int(few[lo])]) == start ? lo : lo - 1
                while i >= 0, body(few[i]) { i -= 1 }
            }
            return
        }
        var r = start
        while r >= 0 && r < sorted.count {
            if StreamVersion.hasDocument(versions.value(sorted[r])) { if !body(sorted[r]) { return } }
            r += forward ? 1 : -1
        }
    }

    enum Row: Equatable {
        case service(String, count: Int)
        case stream(UInt32)
    }

    /// `height` rows around `selected`: service headers (with their counts at the cursor) and
    /// the existing streams under them.
    func rows(around selected: UInt32?, height: Int, in versions: VersionMap) -> [Row] {
        guard height > 0, let center = selected ?? nearest(nil, in: versions) else { return [] }
        // Streams above (nearest first) and from the selected one down.
        var above: [UInt32] = [], below: [UInt32] = []
        let r = Int(rank[Int(center)])
        walk(from: r - 1, forward: false, in: versions) { above.append($0); return above.count < height }
        walk(from: r, forward: true, in: versions) { below.append($0); return below.count < height }
        // The selected stream stays in the list where it would be, also when it has no document here.
        if !StreamVersion.hasDocument(versions.value(center)) { below.insert(center, at: 0) }
        var rows: [Row] = []
        func header(_ s: Int) -> Row { .service(services[s].name, count: existing[s]) }
        // Rows in order, each stream preceded by its service's header when it starts the service.
        let ordered = above.reversed() + below
        // When the walk up stopped short of the top, the first stream's header lies above the window.
        var previousService: Int? = above.count < height ? nil : ordered.first.map(service(of:))
        var centerRow = 0
        for id in ordered {
            let s = service(of: id)
            if s != previousService { rows.append(header(s)) }
            if id == center { centerRow = rows.count }
            rows.append(.stream(id))
            previousService = s
        }
        let start = max(0, min(centerRow - height / 2, rows.count - height))
        return Array(rows[start..<min(rows.count, start + height)])
    }
}
